"""Migration 0008 (order tarefas) on existing data: upgrade keeps every row and re-queues the open
processed orders (their tarefa is created by processar-pedidos), the tarefa rules hold, and the
downgrade removes the order tarefas and restores the previous schema."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command

import models
from app import migrate
from app.localservices import admin_dsn, create_database
from app.settings import get_settings


def _url(db: str) -> str:
    """The test database's URL (PostgreSQL or MySQL, CONTAB_TEST_DB) for database db."""
    url = sa.make_url(get_settings().database_url).set(database=db)
    return url.render_as_string(hide_password=False)


def _insert(conn: sa.Connection, table_name: str, **values: Any) -> int:
    """Insert a row into the table as it is in the database now (an older schema), filling the
    NOT NULL columns the caller leaves out with the model's Python default."""
    table = sa.Table(table_name, sa.MetaData(), autoload_with=conn)
    model = models.Base.metadata.tables[table_name]
    for col in table.columns:  # bind with the model's types (MariaDB reflects JSON as LONGTEXT)
        if col.name in model.c:
            col.type = model.c[col.name].type
    row = dict(values)
    for col in table.columns:
        if col.name in row or col.primary_key or col.nullable or col.server_default is not None:
            continue
        default = model.c[col.name].default if col.name in model.c else None
        arg = getattr(default, "arg", None)
        row[col.name] = arg(None) if callable(arg) else arg
    return int(conn.execute(sa.insert(table).values(**row).returning(table.c.id)).scalar_one())


@pytest.fixture
def url_at_0007() -> str:
    name = f"{os.environ['DB_DATABASE']}_m0008"
    create_database(admin_dsn(get_settings().database_url), name, drop=True)
    url = _url(name)
    migrate.upgrade(url, revision="0007")
    return url


def test_0008_upgrade_keeps_data_and_downgrade_is_clean(url_at_0007: str) -> None:
    engine = sa.create_engine(url_at_0007)
    when = datetime(2026, 6, 5, 15, tzinfo=UTC)
    try:
        with engine.begin() as conn:
            emp = _insert(conn, "empresas", cnpj="11222333000181", razao_social="Padaria",
                          regime="SIMPLES", uf="SP", ibge_code="3550308")  # fmt: skip
            ob = _insert(conn, "obligations", code="DAS", name="DAS", department="fiscal")
            _insert(conn, "tarefas", empresa_id=emp, obligation_id=ob, competencia="2026-05",
                    due_date=date(2026, 6, 22), target_date=date(2026, 6, 19),
                    status="aberta", department="fiscal")  # fmt: skip
            common = {"empresa_id": emp, "kind": "certidao_negativa", "description": "CND",
                      "created_by": "cliente", "department": "fiscal",
                      "due_date": date(2026, 6, 10), "processed_at": when}  # fmt: skip
            open_id = _insert(conn, "orders", status="em_andamento", **common)
            done_id = _insert(conn, "orders", status="concluido", **common)
        command.upgrade(migrate.alembic_config(url_at_0007), "0008")
        with engine.begin() as conn:
            processed = dict(conn.execute(sa.text("SELECT id, processed_at FROM orders")).all())
            assert processed[open_id] is None  # re-queued: processar-pedidos adds its tarefa
            done_at = processed[done_id]  # MySQL: naive UTC through plain SQL
            assert (done_at if done_at.tzinfo else done_at.replace(tzinfo=UTC)) == when
            alerts = set(conn.scalars(sa.text("SELECT alert_business_days FROM orders")))
            assert alerts == {1}
            assert conn.scalar(sa.text("SELECT count(*) FROM tarefas")) == 1
            _insert(conn, "tarefas", empresa_id=emp, order_id=open_id, title="Pedido",
                    competencia="2026-06", due_date=date(2026, 6, 10),
                    target_date=date(2026, 6, 10), status="aberta", department="fiscal")  # fmt: skip
        for bad in ({"order_id": done_id, "obligation_id": ob}, {}):  # both, or neither
            with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
                _insert(conn, "tarefas", empresa_id=emp, competencia="2026-07",
                        due_date=date(2026, 8, 20), target_date=date(2026, 8, 20),
                        status="aberta", department="fiscal", **bad)  # fmt: skip
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:  # one per order
            _insert(conn, "tarefas", empresa_id=emp, order_id=open_id, competencia="2026-06",
                    due_date=date(2026, 6, 10), target_date=date(2026, 6, 10),
                    status="aberta", department="fiscal")  # fmt: skip
        command.downgrade(migrate.alembic_config(url_at_0007), "0007")
        with engine.begin() as conn:
            assert conn.scalar(sa.text("SELECT count(*) FROM tarefas")) == 1  # the DAS one
            cols = {c["name"]: c for c in sa.inspect(conn).get_columns("tarefas")}
            assert "order_id" not in cols and cols["obligation_id"]["nullable"] is False
        command.upgrade(migrate.alembic_config(url_at_0007), "heads")
    finally:
        engine.dispose()
