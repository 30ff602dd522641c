"""Obligation catalogue, per-company assignments, holidays and tarefas."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, Competencia, TimestampMixin


class Obligation(TimestampMixin, Base):
    """One catalogue entry (loaded from app/fiscal/data, or custom by an operator)."""

    __tablename__ = "obligations"

    id: Mapped[BigId]
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # The full declarative rule (periodicity, due rule, applies-to, thresholds, source …).
    rule: Mapped[dict[str, Any]] = mapped_column(default=dict)
    department: Mapped[str] = mapped_column(String(20))
    generates_guide: Mapped[bool] = mapped_column(Boolean, default=False)
    custom: Mapped[bool] = mapped_column(Boolean, default=False)
    catalogue_version: Mapped[str | None] = mapped_column(String(40))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class CompanyObligation(TimestampMixin, Base):
    """An obligation attached to an empresa (automatically or by hand), with overrides."""

    __tablename__ = "company_obligations"
    __table_args__ = (UniqueConstraint("empresa_id", "obligation_id"),)

    id: Mapped[BigId]
    empresa_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("empresas.id", ondelete="CASCADE"), index=True
    )
    obligation_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("obligations.id", ondelete="CASCADE")
    )
    source: Mapped[str] = mapped_column(String(10), default="auto")  # auto|manual
    overrides: Mapped[dict[str, Any]] = mapped_column(default=dict)
    valid_from: Mapped[str] = mapped_column(String(7))  # first competência it applies to
    valid_until: Mapped[str | None] = mapped_column(String(7))  # last one (regime change)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Holiday(TimestampMixin, Base):
    """State or municipal holiday an operator adds to the calendar (national ones are code)."""

    __tablename__ = "holidays"
    __table_args__ = (UniqueConstraint("day", "uf", "ibge_code"),)

    id: Mapped[BigId]
    day: Mapped[date]
    name: Mapped[str] = mapped_column(String(120))
    uf: Mapped[str | None] = mapped_column(String(2))
    ibge_code: Mapped[str | None] = mapped_column(String(7))


class Tarefa(TimestampMixin, Base):
    """Obligation × empresa × competência, with legal due date and internal target date.

    A client order's tarefa (``order_id``, created by ``processar-pedidos``) has no obligation:
    its due date is the order's SLA, its competência the month the order was opened and its
    ``title`` names it; exactly one of obligation and order is set, and an order has one tarefa.
    """

    __tablename__ = "tarefas"
    __table_args__ = (
        UniqueConstraint("empresa_id", "obligation_id", "competencia"),
        UniqueConstraint("order_id"),
        CheckConstraint(
            "(obligation_id IS NULL) <> (order_id IS NULL)", name="obligation_or_order"
        ),
        Index("ix_tarefas_status_due_date", "status", "due_date"),
    )

    id: Mapped[BigId]
    empresa_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("empresas.id", ondelete="CASCADE"), index=True
    )
    obligation_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("obligations.id", ondelete="RESTRICT")
    )
    # Deferred: a restore inserts the tarefas module before the pedidos module.
    order_id: Mapped[int | None] = mapped_column(
        BigInteger,
        ForeignKey("orders.id", ondelete="CASCADE", deferrable=True, initially="DEFERRED"),
    )
    title: Mapped[str | None] = mapped_column(String(200))
    competencia: Mapped[Competencia]
    due_date: Mapped[date]
    target_date: Mapped[date]
    # aberta|a_vencer|vencida|concluida|dispensada
    status: Mapped[str] = mapped_column(String(20), default="aberta")
    department: Mapped[str] = mapped_column(String(20))
    responsible_staff_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("staff.id", ondelete="SET NULL"), index=True
    )
    completed_at: Mapped[datetime | None]
    completed_by: Mapped[str | None] = mapped_column(String(200))
    protocol_file_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("stored_files.id", ondelete="SET NULL")
    )
    dispensed_reason: Mapped[str | None] = mapped_column(Text)
    late_business_days: Mapped[int] = mapped_column(Integer, default=0)
    fine_risk: Mapped[bool] = mapped_column(Boolean, default=False)
