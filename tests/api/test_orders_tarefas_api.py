"""An order's tarefa on the task board API: listed (scoped) with the SLA due date, closed only
through the order's status."""

from __future__ import annotations

from typing import Any

from app.db import session_scope
from app.fiscal.calendar import BusinessCalendar
from app.orders.processing import pending_orders, process_order
from app.storage import get_storage
from tests.api.conftest import auth
from tests.support.api import error_code

PDF = ("cnd.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF", "application/pdf")


def test_order_tarefa_is_listed_and_follows_the_order(
    api_client: Any, seeded: dict[str, Any]
) -> None:
    client, office = auth(seeded["client"]), auth(seeded["office"])
    r = api_client.post(
        f"/api/empresas/{seeded['a']}/pedidos",
        data={"tipo": "certidao_negativa", "descricao": "CND para licitação"},
        files=[("anexos", PDF)],
        headers=client,
    )
    assert r.status_code == 201, r.text
    pedido = r.json()["id"]
    with session_scope() as s:
        for oid in pending_orders(s):
            process_order(s, order_id=oid, storage=get_storage(), calendar=BusinessCalendar(),
                          max_bytes=1024 * 1024)  # fmt: skip
    prazo = api_client.get(f"/api/pedidos/{pedido}", headers=client).json()["vencimento"]
    mine = api_client.get("/api/tarefas?departamento=fiscal", headers=client).json()
    [tarefa] = [t for t in mine["itens"] if t["obrigacao"] == "pedido"]
    assert tarefa["obrigacao_nome"] == f"Pedido nº {pedido} — Certidão negativa de débitos"
    assert tarefa["vencimento"] == prazo and tarefa["situacao"] == "aberta"
    assert tarefa["empresa_id"] == seeded["a"]
    assert api_client.get(f"/api/tarefas/{tarefa['id']}", headers=client).status_code == 200
    # completed through the order, not on the board
    r = api_client.post(f"/api/tarefas/{tarefa['id']}/concluir", headers=office)
    assert r.status_code == 409 and error_code(r) == "transicao_invalida"
    r = api_client.post(
        f"/api/pedidos/{pedido}/situacao",
        data={"situacao": "concluido", "resposta": "Segue a CND."},
        headers=office,
    )
    assert r.status_code == 200, r.text
    done = api_client.get(f"/api/tarefas/{tarefa['id']}", headers=office).json()
    assert done["situacao"] == "concluida" and done["concluida_em"]
