"""Empresas whose município has no calendar: visible to operators, never silently "no holidays".

A município has a calendar when the shipped table (``app/fiscal/data/local_holidays.toml``, every
capital at least) knows it, or when operators registered holidays for it (``contab holidays add
--ibge``, ``/api/feriados``). Anywhere else ISS due dates, internal targets and alerts would use
the national and state holidays only, so ``contab check`` warns about those empresas and the
monitoring exports :func:`empresas_without_calendar_count` as a metric.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.fiscal.holidays_local import without_calendar
from models import Empresa, Holiday

__all__ = [
    "EmpresaSemCalendario",
    "calendar_warnings",
    "empresas_without_calendar",
    "empresas_without_calendar_count",
]


@dataclass(frozen=True, slots=True)
class EmpresaSemCalendario:
    """An active empresa whose município has no calendar."""

    empresa_id: int
    razao_social: str
    ibge_code: str


def empresas_without_calendar(session: Session) -> list[EmpresaSemCalendario]:
    """Active empresas whose município has neither a shipped nor a registered calendar."""
    rows = list(
        session.execute(
            select(Empresa.id, Empresa.razao_social, Empresa.ibge_code)
            .where(Empresa.active.is_(True))
            .order_by(Empresa.id)
        )
    )
    missing = set(without_calendar(r.ibge_code for r in rows))
    if missing:
        registered = session.scalars(
            select(Holiday.ibge_code).where(Holiday.ibge_code.in_(sorted(missing))).distinct()
        )
        missing -= set(registered)
    return [
        EmpresaSemCalendario(r.id, r.razao_social, r.ibge_code)
        for r in rows
        if r.ibge_code in missing
    ]


def empresas_without_calendar_count(session: Session) -> int:
    """How many active empresas have no municipal calendar (a monitoring gauge)."""
    return len(empresas_without_calendar(session))


def calendar_warnings(session: Session, *, limit: int = 20) -> list[str]:
    """pt-BR warning lines for ``contab check`` (empty when every empresa has a calendar)."""
    found = empresas_without_calendar(session)
    if not found:
        return []
    lines = [
        f"{len(found)} empresa(s) em município sem calendário de feriados: cadastre os feriados "
        "locais (contab holidays add --ibge CODIGO) — ver docs/calendars.md"
    ]
    lines += [f"{e.razao_social} (id {e.empresa_id}, IBGE {e.ibge_code})" for e in found[:limit]]
    if len(found) > limit:
        lines.append(f"… e mais {len(found) - limit}")
    return lines
