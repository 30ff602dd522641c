"""Transactional outbox of notifications and their delivery attempts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, TimestampMixin


class Notification(TimestampMixin, Base):
    """One message to one recipient over one channel; the idempotency key is unique."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[BigId]
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    empresa_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("empresas.id", ondelete="SET NULL"), index=True
    )
    channel: Mapped[str] = mapped_column(String(10))  # email|whatsapp
    recipient: Mapped[str] = mapped_column(String(320))
    template: Mapped[str] = mapped_column(String(60))
    context: Mapped[dict[str, Any]] = mapped_column(default=dict)
    attachments: Mapped[list[Any]] = mapped_column(default=list)  # stored_file ids
    # pendente|enviando|enviada|entregue|lida|falhou|cancelada
    status: Mapped[str] = mapped_column(String(12), default="pendente")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    next_attempt_at: Mapped[datetime] = mapped_column(server_default=func.now())
    claimed_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    provider_id: Mapped[str | None] = mapped_column(String(200), index=True)
    sent_at: Mapped[datetime | None]
    last_error_code: Mapped[str | None] = mapped_column(String(50))
    last_error: Mapped[str | None] = mapped_column(Text)


class DeliveryAttempt(Base):
    """Every attempt to send a notification (time, channel, provider id, outcome)."""

    __tablename__ = "delivery_attempts"

    id: Mapped[BigId]
    notification_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("notifications.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(server_default=func.now(), index=True)
    channel: Mapped[str] = mapped_column(String(10))
    outcome: Mapped[str] = mapped_column(String(20))  # enviada|falha_temporaria|falha_permanente
    provider_id: Mapped[str | None] = mapped_column(String(200))
    error_code: Mapped[str | None] = mapped_column(String(50))
    error_message: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
