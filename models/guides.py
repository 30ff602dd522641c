"""Guides (tax slips) and their delivery protocol."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, Competencia, TimestampMixin


class Guide(TimestampMixin, Base):
    """A tax guide of one obligation × empresa × competência."""

    __tablename__ = "guides"
    __table_args__ = (
        UniqueConstraint("empresa_id", "obligation_id", "competencia"),
        Index("ix_guides_status_due_date", "status", "due_date"),
    )

    id: Mapped[BigId]
    empresa_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("empresas.id", ondelete="RESTRICT")
    )
    obligation_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("obligations.id", ondelete="RESTRICT")
    )
    tarefa_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("tarefas.id", ondelete="SET NULL")
    )
    competencia: Mapped[Competencia]
    kind: Mapped[str] = mapped_column(String(10))  # DAS|DAE|DARF|GFD|ISS
    amount: Mapped[Decimal | None] = mapped_column(Numeric(15, 2))
    due_date: Mapped[date]
    barcode: Mapped[str | None] = mapped_column(String(60))
    pix_code: Mapped[str | None] = mapped_column(Text)
    # calculada|aguardando_documento|pronta|enviada|entregue|visualizada|paga|vencida|cancelada
    status: Mapped[str] = mapped_column(String(25))
    calculation: Mapped[dict[str, Any]] = mapped_column(default=dict)
    pdf_file_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("stored_files.id", ondelete="SET NULL")
    )
    official_file_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("stored_files.id", ondelete="SET NULL")
    )
    receipt_file_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("stored_files.id", ondelete="SET NULL")
    )
    paid_at: Mapped[datetime | None]
    failure_reason: Mapped[str | None] = mapped_column(Text)


class GuideEvent(Base):
    """The delivery protocol: sent, delivered, viewed (IP, user agent), paid, re-sent."""

    __tablename__ = "guide_events"

    id: Mapped[BigId]
    guide_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("guides.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20))  # enviada|entregue|visualizada|paga|reenviada
    at: Mapped[datetime]
    channel: Mapped[str | None] = mapped_column(String(10))
    actor: Mapped[str | None] = mapped_column(String(200))
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(400))
    # indexed: delivery status webhooks look the guide up by its notification
    notification_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("notifications.id", ondelete="SET NULL"), index=True
    )
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
