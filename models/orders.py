"""Client orders (pedidos) with attached files."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, TimestampMixin


class Order(TimestampMixin, Base):
    """A client request to the office (certidão, contract change …)."""

    __tablename__ = "orders"

    id: Mapped[BigId]
    empresa_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("empresas.id", ondelete="RESTRICT"), index=True
    )
    kind: Mapped[str] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(
        String(20), default="aberto"
    )  # aberto|em_andamento|concluido
    created_by: Mapped[str] = mapped_column(String(200))
    assigned_staff_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("staff.id", ondelete="SET NULL")
    )
    closed_at: Mapped[datetime | None]


class OrderAttachment(TimestampMixin, Base):
    """A file attached to an order."""

    __tablename__ = "order_attachments"
    __table_args__ = (UniqueConstraint("order_id", "stored_file_id"),)

    id: Mapped[BigId]
    order_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    stored_file_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("stored_files.id", ondelete="RESTRICT")
    )
