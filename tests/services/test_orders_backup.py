"""Restore of client orders (S3 backup target, through the `contab` command): the `pedidos`
module brings back orders, attachments and messages; the order's tarefa comes back with the
`tarefas` module, and restoring a whole empresa works although tarefas precede orders (the
foreign key is checked at commit)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import text

from app.cli import main
from app.db import session_scope
from app.storage.local import LocalStorage
from models import Empresa, Tarefa
from models.orders import Order, OrderAttachment, OrderMessage
from tests.services.backup_support import _file, s3_fixture, table_rows  # noqa: F401
from tests.services.test_backup_restore import backup_env, run  # noqa: F401

CNPJ = "11222333000181"
TABLES = ("orders", "order_attachments", "order_messages", "tarefas")


def _seed(storage: LocalStorage) -> int:
    with session_scope() as s:
        e = Empresa(cnpj=CNPJ, razao_social="Padaria", regime="SIMPLES", uf="SP",
                    ibge_code="3550308")  # fmt: skip
        s.add(e)
        s.flush()
        o = Order(empresa_id=e.id, kind="certidao_negativa", description="CND",
                  created_by="cliente", status="em_andamento", department="fiscal",
                  due_date=date(2026, 6, 10), processed_at=datetime(2026, 6, 5, tzinfo=UTC))  # fmt: skip
        s.add(o)
        s.flush()
        f = _file(s, storage, e, "cnd.pdf", b"%PDF-1.4 pedido", "pedido")
        s.add(OrderAttachment(order_id=o.id, stored_file_id=f.id, status="aceito", kind="pdf"))
        s.add(OrderMessage(order_id=o.id, author="cliente", text="Para licitação"))
        s.add(Tarefa(empresa_id=e.id, order_id=o.id, title=f"Pedido nº {o.id}",
                     competencia="2026-06", due_date=date(2026, 6, 10),
                     target_date=date(2026, 6, 10), department="fiscal"))  # fmt: skip
        return o.id


def _rows() -> dict[str, list[tuple[object, ...]]]:
    return {t: table_rows(t) for t in TABLES}


def _lose_the_order(order_id: int) -> None:
    with session_scope() as s:  # cascades to attachments, messages and the order's tarefa
        s.execute(text("DELETE FROM orders WHERE id = :i"), {"i": order_id})
    assert all(not rows for rows in _rows().values())


def test_orders_with_messages_and_tarefa_come_back(
    backup_env: LocalStorage,  # noqa: F811 (the imported fixture)
    capsys,
) -> None:  # type: ignore[no-untyped-def]
    order_id = _seed(backup_env)
    before = _rows()
    assert all(before.values())
    assert main(["backup"]) == 0
    capsys.readouterr()

    _lose_the_order(order_id)
    code, done, err = run(capsys, "restore", "--module", "pedidos")
    assert code == 0, err
    assert {t: done["tabelas"][t]["inseridas"] for t in TABLES[:3]} == dict.fromkeys(TABLES[:3], 1)
    code, done, err = run(capsys, "restore", "--module", "tarefas")
    assert code == 0 and done["tabelas"]["tarefas"]["inseridas"] == 1, err
    assert _rows() == before

    _lose_the_order(order_id)
    code, done, err = run(capsys, "restore", "--empresa", CNPJ)  # tarefas before pedidos
    assert code == 0, err
    assert _rows() == before
