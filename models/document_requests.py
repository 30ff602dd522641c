"""Monthly document requests (solicitações mensais) and their items."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, Competencia, TimestampMixin


class RequestTemplate(TimestampMixin, Base):
    """Which items to ask each month, by regime (and optional characteristic)."""

    __tablename__ = "request_templates"
    __table_args__ = (UniqueConstraint("regime", "code"),)

    id: Mapped[BigId]
    regime: Mapped[str] = mapped_column(String(20))
    code: Mapped[str] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(String(300))
    # {"requires": "has_employees"} / {"matches_document_kind": "nfe_entrada"}
    rule: Mapped[dict[str, Any]] = mapped_column(default=dict)


class DocumentRequest(TimestampMixin, Base):
    """One empresa's request for one competência (created once)."""

    __tablename__ = "document_requests"
    __table_args__ = (UniqueConstraint("empresa_id", "competencia"),)

    id: Mapped[BigId]
    empresa_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("empresas.id", ondelete="CASCADE"), index=True
    )
    competencia: Mapped[Competencia]
    # aberta|parcial|concluida|nada_a_enviar
    status: Mapped[str] = mapped_column(String(20), default="aberta")
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0)
    last_reminder_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    client_note: Mapped[str | None] = mapped_column(Text)


class RequestItem(TimestampMixin, Base):
    """One requested item; received when a matching document or an attached file arrives."""

    __tablename__ = "request_items"
    __table_args__ = (UniqueConstraint("request_id", "code"),)

    id: Mapped[BigId]
    request_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("document_requests.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(String(300))
    rule: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(20), default="pendente")  # pendente|recebido
    received_at: Mapped[datetime | None]
    file_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("stored_files.id", ondelete="SET NULL")
    )
