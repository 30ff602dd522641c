"""Guide API: scope, register document, paid, re-send, download, protocol, tracked link."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

from sqlalchemy import select

from app.db import session_scope
from app.guides import generation as guides
from app.guides import protocol
from models import Contact, Guide, Notification, Tarefa
from tests.api.conftest import auth
from tests.support.api import error_code
from tests.support.catalogue import catalogue_row


def _guide(empresa_id: int, code: str = "FGTS") -> int:
    """A guide awaiting its official document, with a contact to send it to."""
    with session_scope() as s:
        row = catalogue_row(code)  # a guide-generating obligation
        s.add(row)
        s.flush()
        s.add(
            Tarefa(
                empresa_id=empresa_id,
                obligation_id=row.id,
                competencia="2026-05",
                due_date=date(2026, 6, 19),
                target_date=date(2026, 6, 16),
                department=row.department,
            )
        )
        s.add(Contact(empresa_id=empresa_id, name="Maria", email="maria@cliente.test"))
        s.flush()
        guides.generate(s, competencia="2026-05", empresa_ids=[empresa_id])
        gid = s.scalar(select(Guide.id).where(Guide.empresa_id == empresa_id))
        assert gid is not None
        return gid


def test_register_send_view_pay_and_protocol(api_client, seeded) -> None:  # type: ignore[no-untyped-def]
    gid = _guide(seeded["a"])
    office, client = auth(seeded["office"]), auth(seeded["client"])

    listed = api_client.get("/api/guias?competencia=05/2026", headers=client).json()["itens"]
    assert [(g["id"], g["status"], g["tipo"]) for g in listed] == [
        (gid, "aguardando_documento", "GFD")
    ]
    form = {"valor": "812,34", "linha_digitavel": "8581 0000 0081"}
    files = {"arquivo": ("gfd.pdf", b"%PDF-1.4 oficial", "application/pdf")}
    denied = api_client.post(f"/api/guias/{gid}/documento", data=form, files=files, headers=client)
    assert denied.status_code == 403
    ok = api_client.post(f"/api/guias/{gid}/documento", data=form, files=files, headers=office)
    assert ok.status_code == 200, ok.text
    body = ok.json()
    assert (body["status"], body["valor"], body["documento_oficial"]) == ("pronta", "812.34", True)
    bad = api_client.post(
        f"/api/guias/{gid}/documento",
        data=form,
        files={"arquivo": ("x.exe", b"MZ...", "application/pdf")},
        headers=office,
    )
    assert error_code(bad) == "tipo_de_arquivo_invalido"

    with session_scope() as s:
        protocol.send(s, guide_ids=[gid])
        n = s.scalar(select(Notification).where(Notification.template == "guia_disponivel"))
        assert n is not None
        link = n.context["link"]
        assert n.attachments[1:] and len(n.attachments) == 2  # office PDF + official document
    path = "/api/" + link.split("/api/", 1)[1]
    opened = api_client.get(path, headers={"User-Agent": "Celular/1.0"}, follow_redirects=False)
    assert opened.status_code == 302 and "/api/files/" in opened.headers["location"]
    pdf = api_client.get(opened.headers["location"])
    assert pdf.content == b"%PDF-1.4 oficial"  # the official document is what the link opens
    tampered = api_client.get(path[:-3] + "abc", follow_redirects=False)
    assert tampered.status_code == 403 and error_code(tampered) == "link_invalido"

    resent = api_client.post(f"/api/guias/{gid}/reenvio", json={"motivo": "perdeu"}, headers=office)
    assert resent.json() == {"guia_id": gid, "mensagens": 1}
    paid = api_client.post(
        f"/api/guias/{gid}/pagamento",
        files={"comprovante": ("c.png", b"\x89PNG....", "image/png")},
        headers=client,
    )
    assert paid.json()["status"] == "paga" and paid.json()["comprovante"] is True

    events = api_client.get(f"/api/guias/{gid}/protocolo", headers=client).json()["itens"]
    kinds = [e["tipo"] for e in events]
    assert kinds == ["enfileirada", "visualizada", "enfileirada", "reenviada", "paga"]
    view = events[1]
    assert view["user_agent"] == "Celular/1.0" and view["ip"] and view["detalhes"]["primeira"]
    dl = api_client.get(f"/api/guias/{gid}/download", headers=client).json()
    assert "/api/files/" in dl["url"] and dl["expira_em_segundos"] > 0


def test_client_cannot_see_another_empresa(api_client, seeded) -> None:  # type: ignore[no-untyped-def]
    gid = _guide(seeded["b"])
    client = auth(seeded["client"])
    r = api_client.get(f"/api/guias/{gid}", headers=client)
    assert r.status_code == 404 and error_code(r) == "guia_nao_encontrada"
    assert api_client.get("/api/guias", headers=client).json()["itens"] == []
    r = api_client.get(f"/api/guias/{gid}/protocolo", headers=client)
    assert r.status_code == 404 and error_code(r) == "guia_nao_encontrada"


def test_revenue_and_payroll_declared_by_the_office(api_client, seeded) -> None:  # type: ignore[no-untyped-def]
    office, client = auth(seeded["office"]), auth(seeded["client"])
    e = seeded["a"]
    entry = {"competencia": "2026-04", "anexo": "I", "origem": "historico", "valor": "1500.50"}
    assert (
        api_client.post(f"/api/empresas/{e}/receitas", json=entry, headers=client).status_code
        == 403
    )
    r = api_client.post(f"/api/empresas/{e}/receitas", json=entry, headers=office)
    assert r.status_code == 201 and r.json()["valor"] == "1500.50"
    adj = {**entry, "origem": "ajuste", "valor": "-500.50"}
    assert (
        api_client.post(f"/api/empresas/{e}/receitas", json=adj, headers=office).status_code == 201
    )
    folha = {"competencia": "2026-04", "valor": "420.00"}
    assert (
        api_client.post(f"/api/empresas/{e}/folha", json=folha, headers=office).status_code == 201
    )
    months = api_client.get(
        f"/api/empresas/{e}/receitas?inicio=2026-03&fim=2026-04", headers=office
    ).json()["itens"]
    assert months == [
        {"competencia": "2026-03", "receitas": {}, "folha": None},
        {"competencia": "2026-04", "receitas": {"I": "1000.00"}, "folha": "420.00"},
    ]
    assert D(months[1]["receitas"]["I"]) == D("1000")
