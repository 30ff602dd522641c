"""tarefas of client orders; SLA alert threshold per order

A client order gets one tarefa (``tarefas.order_id``, unique) for its department with the SLA
due date. Such a tarefa has no obligation (``obligation_id`` becomes nullable; a check keeps
exactly one of obligation and order), its competência is the month the order was opened and
``title`` names it. The foreign key to ``orders`` is deferred to commit, so a restore that
inserts the ``tarefas`` module before the ``pedidos`` module (one transaction) works.
``orders.alert_business_days`` holds the SLA alert threshold copied from the order type.

Existing open orders that were already processed are queued again (``processed_at`` cleared):
``processar-pedidos`` redoes only what is missing — their tarefa (every other step is
idempotent). Downgrade deletes the order tarefas.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 17:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "orders",
        sa.Column("alert_business_days", sa.SmallInteger(), nullable=False, server_default="1"),
    )
    op.alter_column("tarefas", "obligation_id", existing_type=sa.BigInteger(), nullable=True)
    op.add_column("tarefas", sa.Column("order_id", sa.BigInteger(), nullable=True))
    op.add_column("tarefas", sa.Column("title", sa.String(length=200), nullable=True))
    op.create_foreign_key(
        op.f("fk_tarefas_order_id_orders"), "tarefas", "orders", ["order_id"], ["id"],
        ondelete="CASCADE", deferrable=True, initially="DEFERRED",
    )  # fmt: skip
    op.create_unique_constraint(op.f("uq_tarefas_order_id"), "tarefas", ["order_id"])
    op.create_check_constraint(
        op.f("ck_tarefas_obligation_or_order"),
        "tarefas",
        "(obligation_id IS NULL) <> (order_id IS NULL)",
    )
    op.execute(
        "UPDATE orders SET processed_at = NULL WHERE processed_at IS NOT NULL "
        "AND due_date IS NOT NULL AND status NOT IN ('concluido', 'cancelado')"
    )


def downgrade() -> None:
    op.execute("DELETE FROM tarefas WHERE order_id IS NOT NULL")
    op.drop_constraint(op.f("ck_tarefas_obligation_or_order"), "tarefas", type_="check")
    op.drop_constraint(op.f("uq_tarefas_order_id"), "tarefas", type_="unique")
    op.drop_constraint(op.f("fk_tarefas_order_id_orders"), "tarefas", type_="foreignkey")
    op.drop_column("tarefas", "title")
    op.drop_column("tarefas", "order_id")
    op.alter_column("tarefas", "obligation_id", existing_type=sa.BigInteger(), nullable=False)
    op.drop_column("orders", "alert_business_days")
