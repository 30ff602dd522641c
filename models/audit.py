"""Audit log (kept 7 years) and operational logs (cleaned by limpeza-de-logs)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId


class AuditLog(Base):
    """Who did what, when and why; never deleted by cleanup (retention 7 years)."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_entity", "entity", "entity_id"),)

    id: Mapped[BigId]
    at: Mapped[datetime] = mapped_column(server_default=func.now(), index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(60))
    entity: Mapped[str] = mapped_column(String(60))
    entity_id: Mapped[str | None] = mapped_column(String(60))
    empresa_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class OperationalLog(Base):
    """Operational log lines (job outcomes, integration traces); short-lived."""

    __tablename__ = "operational_logs"

    id: Mapped[BigId]
    at: Mapped[datetime] = mapped_column(server_default=func.now(), index=True)
    level: Mapped[str] = mapped_column(String(10))
    source: Mapped[str] = mapped_column(String(60))
    message: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class BackupRun(Base):
    """One backup (database dump + storage manifest) with where it went."""

    __tablename__ = "backup_runs"

    id: Mapped[BigId]
    started_at: Mapped[datetime] = mapped_column(server_default=func.now())
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(12))  # em_andamento|concluido|falhou
    location: Mapped[str | None] = mapped_column(String(400))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
