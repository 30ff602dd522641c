"""orders: status workflow, SLA due date, attachment checks, messages

``orders`` gains the department and SLA due date set by ``processar-pedidos``, the office's
reply and a per-order summary; ``order_attachments`` records each file's name, role (client or
result), content check (status, kind, code, flags) and the upload that took an XML to intake;
``order_messages`` holds the conversation. Existing ``aberto`` orders become ``recebido``.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 13:49:34.606362
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSONB = postgresql.JSONB(astext_type=sa.Text())


def upgrade() -> None:
    op.create_table(
        "order_messages",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("from_office", sa.Boolean(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_order_messages_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_messages")),
    )  # fmt: skip
    op.create_index(
        op.f("ix_order_messages_order_id"), "order_messages", ["order_id"], unique=False
    )
    add = op.add_column
    add("order_attachments", sa.Column("original_name", sa.String(255), nullable=False,
                                       server_default="arquivo"))  # fmt: skip
    add("order_attachments", sa.Column("role", sa.String(12), nullable=False,
                                       server_default="cliente"))  # fmt: skip
    add("order_attachments", sa.Column("status", sa.String(20), nullable=False,
                                       server_default="pendente"))  # fmt: skip
    add("order_attachments", sa.Column("kind", sa.String(20), nullable=True))
    add("order_attachments", sa.Column("error_code", sa.String(60), nullable=True))
    add("order_attachments", sa.Column("error_message", sa.Text(), nullable=True))
    add("order_attachments", sa.Column("flags", _JSONB, nullable=False,
                                       server_default=sa.text("'[]'::jsonb")))  # fmt: skip
    add("order_attachments", sa.Column("upload_id", sa.BigInteger(), nullable=True))
    op.create_foreign_key(
        op.f("fk_order_attachments_upload_id_uploads"), "order_attachments", "uploads",
        ["upload_id"], ["id"], ondelete="SET NULL",
    )  # fmt: skip
    add("orders", sa.Column("department", sa.String(20), nullable=True))
    add("orders", sa.Column("due_date", sa.Date(), nullable=True))
    add("orders", sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True))
    add("orders", sa.Column("reply", sa.Text(), nullable=True))
    add("orders", sa.Column("status_changes", sa.Integer(), nullable=False, server_default="0"))
    add("orders", sa.Column("summary", _JSONB, nullable=False,
                            server_default=sa.text("'{}'::jsonb")))  # fmt: skip
    op.execute("UPDATE orders SET status = 'recebido' WHERE status = 'aberto'")
    op.create_index(op.f("ix_orders_processed_at"), "orders", ["processed_at"], unique=False)
    op.create_index("ix_orders_status_due_date", "orders", ["status", "due_date"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_orders_status_due_date", table_name="orders")
    op.drop_index(op.f("ix_orders_processed_at"), table_name="orders")
    op.execute("UPDATE orders SET status = 'aberto' WHERE status = 'recebido'")
    for col in ("summary", "status_changes", "reply", "processed_at", "due_date", "department"):
        op.drop_column("orders", col)
    op.drop_constraint(
        op.f("fk_order_attachments_upload_id_uploads"), "order_attachments", type_="foreignkey"
    )
    for col in ("upload_id", "flags", "error_message", "error_code", "kind", "status", "role",
                "original_name"):  # fmt: skip
        op.drop_column("order_attachments", col)
    op.drop_index(op.f("ix_order_messages_order_id"), table_name="order_messages")
    op.drop_table("order_messages")
