"""Revenue ledger and payroll: the inputs of the DAS (Simples Nacional) calculation."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, ForeignKey, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, Competencia, TimestampMixin


class RevenueEntry(TimestampMixin, Base):
    """Gross revenue of an empresa in a competência, per Anexo and source."""

    __tablename__ = "revenue_entries"
    __table_args__ = (UniqueConstraint("empresa_id", "competencia", "anexo", "source"),)

    id: Mapped[BigId]
    empresa_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("empresas.id", ondelete="CASCADE"), index=True
    )
    competencia: Mapped[Competencia]
    anexo: Mapped[str] = mapped_column(String(3))  # I..V
    source: Mapped[str] = mapped_column(String(12))  # documentos|ajuste|historico
    amount: Mapped[Decimal] = mapped_column(Numeric(15, 2))
    note: Mapped[str | None] = mapped_column(Text)
    computed_at: Mapped[datetime | None]


class PayrollEntry(TimestampMixin, Base):
    """Payroll declared per month (Fator R, LC 123/2006 art. 18 §5-J)."""

    __tablename__ = "payroll_entries"
    __table_args__ = (UniqueConstraint("empresa_id", "competencia"),)

    id: Mapped[BigId]
    empresa_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("empresas.id", ondelete="CASCADE"), index=True
    )
    competencia: Mapped[Competencia]
    amount: Mapped[Decimal] = mapped_column(Numeric(15, 2))
