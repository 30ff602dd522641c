"""Holidays operators register (``holidays`` table): add, remove, list — every change audited.

The shipped tables (``app.fiscal``) know national and state holidays and the municipal ones of
the main cities; a município the table does not know, a new municipal law or a one-off bank
closure is registered here and enters every calendar through ``app.obligations.calendar``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import InvalidInput, NotFound
from app.fiscal.holidays_local import uf_for_ibge
from app.platform import audit
from models import Holiday

__all__ = ["HolidayView", "add_holiday", "list_holidays", "remove_holiday"]

_UFS = frozenset(
    "AC AL AM AP BA CE DF ES GO MA MG MS MT PA PB PE PI PR RJ RN RO RR RS SC SE SP TO".split()
)


@dataclass(frozen=True, slots=True)
class HolidayView:
    """A registered holiday as listings show it."""

    id: int
    day: date
    name: str
    uf: str | None
    ibge_code: str | None


def _view(row: Holiday) -> HolidayView:
    return HolidayView(row.id, row.day, row.name, row.uf, row.ibge_code)


def _place(uf: str | None, ibge_code: str | None) -> tuple[str | None, str | None]:
    """Normalised (uf, ibge): a municipal row is keyed by its IBGE code alone."""
    uf = uf.strip().upper() if uf and uf.strip() else None
    ibge_code = ibge_code.strip() if ibge_code and ibge_code.strip() else None
    if ibge_code:
        ibge_uf = uf_for_ibge(ibge_code)  # raises ibge_invalido
        if uf and uf != ibge_uf:
            raise InvalidInput(
                f"O município {ibge_code} pertence à UF {ibge_uf}, não a {uf}.",
                code="uf_invalida",
            )
        return None, ibge_code
    if uf and uf not in _UFS:
        raise InvalidInput(f"UF desconhecida: {uf!r}.", code="uf_invalida")
    return uf, None


def add_holiday(
    session: Session,
    *,
    day: date,
    name: str,
    uf: str | None = None,
    ibge_code: str | None = None,
    actor: str,
) -> Holiday:
    """Register a holiday (idempotent per day and place; audited)."""
    clean = (name or "").strip()
    if not clean or len(clean) > 120:
        raise InvalidInput("Informe o nome do feriado (até 120 caracteres).", code="nome_invalido")
    uf, ibge_code = _place(uf, ibge_code)
    # NULLs never collide in a unique key, so look the row up instead of relying on it.
    existing = session.scalar(
        select(Holiday).where(
            Holiday.day == day,
            Holiday.uf.is_(None) if uf is None else Holiday.uf == uf,
            Holiday.ibge_code.is_(None) if ibge_code is None else Holiday.ibge_code == ibge_code,
        )
    )
    if existing is not None:
        return existing
    row = Holiday(day=day, name=clean, uf=uf, ibge_code=ibge_code)
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="feriado.cadastrado",
        entity="holiday",
        entity_id=row.id,
        details={"dia": day.isoformat(), "nome": clean, "uf": uf, "ibge": ibge_code},
    )
    return row


def remove_holiday(
    session: Session, *, holiday_id: int, actor: str, reason: str | None = None
) -> HolidayView:
    """Delete a registered holiday (audited with what it was); NotFound when unknown.

    Tarefas already generated keep their dates: a new generation or status refresh uses the
    calendar without it."""
    row = session.get(Holiday, holiday_id)
    if row is None:
        raise NotFound("Feriado não encontrado.", code="feriado_nao_encontrado")
    gone = _view(row)
    session.delete(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="feriado.removido",
        entity="holiday",
        entity_id=holiday_id,
        reason=reason,
        details={
            "dia": gone.day.isoformat(),
            "nome": gone.name,
            "uf": gone.uf,
            "ibge": gone.ibge_code,
        },
    )
    return gone


def list_holidays(
    session: Session,
    *,
    year: int | None = None,
    uf: str | None = None,
    ibge_code: str | None = None,
) -> list[HolidayView]:
    """Registered holidays by date; ``uf``/``ibge_code`` keep those of that place only."""
    q = select(Holiday).order_by(Holiday.day, Holiday.id)
    if year is not None:
        q = q.where(Holiday.day >= date(year, 1, 1), Holiday.day <= date(year, 12, 31))
    if ibge_code:
        q = q.where(Holiday.ibge_code == ibge_code.strip())
    elif uf:
        q = q.where(Holiday.uf == uf.strip().upper())
    return [_view(r) for r in session.scalars(q)]
