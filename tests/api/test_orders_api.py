"""Orders through the HTTP API: a client opens and follows its own orders, the office works
them; attachments are checked by content (processar-pedidos), downloads are signed links."""

from __future__ import annotations

from typing import Any

from app.db import session_scope
from app.fiscal.calendar import BusinessCalendar
from app.orders.processing import pending_orders, process_order
from app.storage import get_storage
from models import Staff
from tests.api.conftest import auth

PDF = ("cnd.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF", "application/pdf")
EXE = ("nota.pdf", b"MZ\x90\x00" + b"\x00" * 60, "application/pdf")
JS = ("boleto.pdf", b"%PDF-1.4 << /OpenAction << /S /JavaScript /JS (app.alert(1)) >> >>",
      "application/pdf")  # fmt: skip


def _process() -> None:
    with session_scope() as s:
        for oid in pending_orders(s):
            process_order(s, order_id=oid, storage=get_storage(), calendar=BusinessCalendar(),
                          max_bytes=1024 * 1024)  # fmt: skip


def _open(api: Any, seeded: dict[str, Any], files: list[Any], tipo: str = "certidao_negativa"):  # type: ignore[no-untyped-def]
    return api.post(
        f"/api/empresas/{seeded['a']}/pedidos",
        data={"tipo": tipo, "descricao": "Certidão para licitação"},
        files=[("anexos", f) for f in files],
        headers=auth(seeded["client"]),
    )


def test_client_opens_follows_and_office_answers(api_client: Any, seeded: dict[str, Any]) -> None:
    client, office = auth(seeded["client"]), auth(seeded["office"])
    with session_scope() as s:
        staff = Staff(name="Ana", email="ana@escritorio.exemplo", department="fiscal")
        s.add(staff)
        s.flush()
        staff_id = staff.id
    r = _open(api_client, seeded, [PDF, EXE, JS])
    assert r.status_code == 201, r.text
    pedido = r.json()
    assert pedido["situacao"] == "recebido" and pedido["empresa_id"] == seeded["a"]
    assert [a["situacao"] for a in pedido["anexos"]] == ["pendente"] * 3
    _process()
    got = api_client.get(f"/api/pedidos/{pedido['id']}", headers=client).json()
    codes = {a["nome"]: (a["situacao"], a["erro_codigo"]) for a in got["anexos"]}
    assert codes == {
        "cnd.pdf": ("aceito", None),
        "nota.pdf": ("quarentena", "executavel_disfarcado"),
        "boleto.pdf": ("quarentena", "pdf_com_javascript"),
    }
    assert (
        got["departamento"] == "fiscal" and got["vencimento"] and got["responsavel_id"] == staff_id
    )
    # downloads: signed links; a quarantined file only for the office
    ids = {a["nome"]: a["id"] for a in got["anexos"]}
    base = f"/api/pedidos/{pedido['id']}/anexos"
    ok = api_client.get(f"{base}/{ids['cnd.pdf']}/download", headers=client)
    assert ok.status_code == 200 and ok.json()["expira_em_segundos"] > 0
    blocked = api_client.get(f"{base}/{ids['nota.pdf']}/download", headers=client)
    assert (blocked.status_code, blocked.json()["erro"]["codigo"]) == (409, "anexo_em_quarentena")
    assert api_client.get(f"{base}/{ids['nota.pdf']}/download", headers=office).status_code == 200
    # conversation, office listing with filters, status with a result file
    r = api_client.post(f"/api/pedidos/{pedido['id']}/mensagens", json={"texto": "Urgente"},
                        headers=client)  # fmt: skip
    assert r.json()["mensagens"][0]["texto"] == "Urgente"
    listing = api_client.get("/api/pedidos", params={"departamento": "fiscal",
                             "situacao": "recebido"}, headers=office).json()  # fmt: skip
    assert set(listing) == {"itens", "total", "limite", "deslocamento"} and listing["total"] == 1
    assert api_client.get("/api/pedidos", params={"vencimento_ate": "2000-01-01"},
                          headers=office).json()["total"] == 0  # fmt: skip
    r = api_client.post(
        f"/api/pedidos/{pedido['id']}/situacao",
        data={"situacao": "concluido", "resposta": "Certidão emitida."},
        files=[("resultados", ("certidao.pdf", PDF[1] + b"ok", "application/pdf"))],
        headers=office,
    )
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["situacao"] == "concluido" and done["resposta"] == "Certidão emitida."
    assert [a["origem"] for a in done["anexos"]].count("resultado") == 1
    again = api_client.post(f"/api/pedidos/{pedido['id']}/cancelar", json={}, headers=client)
    assert (again.status_code, again.json()["erro"]["codigo"]) == (409, "pedido_encerrado")


def test_bad_requests_are_clear_4xx(api_client: Any, seeded: dict[str, Any]) -> None:
    client, office = auth(seeded["client"]), auth(seeded["office"])
    r = _open(api_client, seeded, [PDF], tipo="pizza")
    assert (r.status_code, r.json()["erro"]["codigo"]) == (422, "tipo_de_pedido_desconhecido")
    other = api_client.post(
        f"/api/empresas/{seeded['b']}/pedidos", data={"tipo": "outros", "descricao": "x"},
        headers=client,
    )  # fmt: skip
    assert (other.status_code, other.json()["erro"]["codigo"]) == (403, "empresa_fora_do_escopo")
    many = [(f"{i}.pdf", PDF[1] + bytes([i]), "application/pdf") for i in range(21)]
    r = _open(api_client, seeded, many)
    assert (r.status_code, r.json()["erro"]["codigo"]) == (422, "arquivos_demais")
    assert api_client.get("/api/pedidos", headers=client).json()["total"] == 0  # nothing half-made
    pedido = _open(api_client, seeded, []).json()
    r = api_client.post(f"/api/pedidos/{pedido['id']}/situacao", data={"situacao": "feito"},
                        headers=office)  # fmt: skip
    assert (r.status_code, r.json()["erro"]["codigo"]) == (422, "situacao_invalida")
    r = api_client.post(f"/api/pedidos/{pedido['id']}/situacao", data={"situacao": "concluido"},
                        headers=client)  # fmt: skip
    assert (r.status_code, r.json()["erro"]["codigo"]) == (403, "somente_escritorio")
    r = api_client.post(f"/api/pedidos/{pedido['id']}/atribuir", json={"responsavel_id": 999},
                        headers=office)  # fmt: skip
    assert (r.status_code, r.json()["erro"]["codigo"]) == (422, "responsavel_desconhecido")
    tipos = api_client.get("/api/pedidos/tipos", headers=client).json()
    assert {"certidao_negativa", "admissao", "outros"} <= {t["codigo"] for t in tipos["itens"]}
