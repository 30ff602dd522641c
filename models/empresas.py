"""Empresas (client companies), their contacts and the office staff."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, TimestampMixin


class Staff(TimestampMixin, Base):
    """A member of the office (contador, analista) who owns tarefas and gets internal alerts."""

    __tablename__ = "staff"

    id: Mapped[BigId]
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320), unique=True)
    phone: Mapped[str | None] = mapped_column(String(20))
    department: Mapped[str] = mapped_column(String(20), default="fiscal")  # fiscal|pessoal|contabil
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Empresa(TimestampMixin, Base):
    """A client company; CNPJ is text (alphanumeric-ready, IN RFB 2.229/2024)."""

    __tablename__ = "empresas"

    id: Mapped[BigId]
    cnpj: Mapped[str] = mapped_column(String(14), unique=True)
    razao_social: Mapped[str] = mapped_column(String(200))
    nome_fantasia: Mapped[str | None] = mapped_column(String(200))
    regime: Mapped[str] = mapped_column(String(20))  # MEI|SIMPLES|PRESUMIDO|REAL
    uf: Mapped[str] = mapped_column(String(2))
    ibge_code: Mapped[str] = mapped_column(String(7))
    municipio: Mapped[str | None] = mapped_column(String(100))
    opened_on: Mapped[date | None]
    has_employees: Mapped[bool] = mapped_column(Boolean, default=False)
    has_withholdings: Mapped[bool] = mapped_column(Boolean, default=False)
    is_service_provider: Mapped[bool] = mapped_column(Boolean, default=False)
    # Simples Nacional: activities by Anexo ("I".."V"); Fator R applies to "V".
    anexos: Mapped[list[Any]] = mapped_column(default=list)
    # Characteristics that select obligations beyond the regime (free-form flags).
    characteristics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    responsible_staff_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("staff.id", ondelete="SET NULL")
    )
    # Per-department responsible overrides: {"pessoal": staff_id, ...}
    responsibles: Mapped[dict[str, Any]] = mapped_column(default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Contact(TimestampMixin, Base):
    """A person at the empresa who receives messages; preferences per kind of message."""

    __tablename__ = "contacts"
    __table_args__ = (UniqueConstraint("empresa_id", "email"),)

    id: Mapped[BigId]
    empresa_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("empresas.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(20))
    role: Mapped[str | None] = mapped_column(String(60))
    # {"alerta_tarefa": ["email"], "guia_disponivel": ["email","whatsapp"], ...}
    preferences: Mapped[dict[str, Any]] = mapped_column(default=dict)
    opt_out_email: Mapped[bool] = mapped_column(Boolean, default=False)
    opt_out_whatsapp: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
