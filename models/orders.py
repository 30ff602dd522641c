"""Client orders (pedidos) with attached files, messages and the office's answer."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, TimestampMixin


class Order(TimestampMixin, Base):
    """A client request to the office (certidão, contract change …).

    ``kind`` is an order type code of ``app/orders/data/order_types.toml``. ``department`` and
    ``due_date`` (the SLA on the office's business-day calendar) are set when the order is
    processed (``processar-pedidos``), which also creates the order's tarefa (``tarefas.order_id``);
    ``processed_at`` marks that run's work as done."""

    __tablename__ = "orders"
    __table_args__ = (Index("ix_orders_status_due_date", "status", "due_date"),)

    id: Mapped[BigId]
    empresa_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("empresas.id", ondelete="RESTRICT"), index=True
    )
    kind: Mapped[str] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(Text)
    # recebido|em_andamento|aguardando_cliente|concluido|cancelado
    status: Mapped[str] = mapped_column(String(20), default="recebido")
    created_by: Mapped[str] = mapped_column(String(200))
    assigned_staff_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("staff.id", ondelete="SET NULL")
    )
    closed_at: Mapped[datetime | None]
    department: Mapped[str | None] = mapped_column(String(20))
    due_date: Mapped[date | None]
    # SLA alert: business days before ``due_date`` (from the order type, copied at processing).
    alert_business_days: Mapped[int] = mapped_column(SmallInteger, default=1)
    processed_at: Mapped[datetime | None] = mapped_column(index=True)
    reply: Mapped[str | None] = mapped_column(Text)
    # Status changes so far: part of each client notification's idempotency key.
    status_changes: Mapped[int] = mapped_column(default=0)
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)


class OrderAttachment(TimestampMixin, Base):
    """A file attached to an order: by the client (``cliente``) or a result (``resultado``).

    ``status``: ``pendente`` (not yet checked) → ``aceito`` | ``quarentena`` (``error_code``);
    an accepted XML is handed to document intake (``upload_id``)."""

    __tablename__ = "order_attachments"
    __table_args__ = (UniqueConstraint("order_id", "stored_file_id"),)

    id: Mapped[BigId]
    order_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    stored_file_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("stored_files.id", ondelete="RESTRICT")
    )
    original_name: Mapped[str] = mapped_column(String(255), default="arquivo")
    role: Mapped[str] = mapped_column(String(12), default="cliente")
    status: Mapped[str] = mapped_column(String(20), default="pendente")
    kind: Mapped[str | None] = mapped_column(String(20))  # pdf|imagem|xml|zip|office
    error_code: Mapped[str | None] = mapped_column(String(60))
    error_message: Mapped[str | None] = mapped_column(Text)
    flags: Mapped[list[Any]] = mapped_column(default=list)
    upload_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("uploads.id", ondelete="SET NULL")
    )


class OrderMessage(TimestampMixin, Base):
    """A message on an order, from the client or the office."""

    __tablename__ = "order_messages"

    id: Mapped[BigId]
    order_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    author: Mapped[str] = mapped_column(String(200))
    from_office: Mapped[bool] = mapped_column(Boolean, default=False)
    text: Mapped[str] = mapped_column(Text)
