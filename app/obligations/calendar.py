"""Operator-registered holidays (``holidays`` table) merged into the business-day calendar.

National holidays, Carnaval and the shipped municipal table are code/data in ``app.fiscal``; this
module adds what an operator registers at run time, through ``BusinessCalendar(extra=...)``:

- a row with neither UF nor IBGE is an extra *national* bank closure (applies to every calendar);
- a row with a UF applies to the calendars of that state (municipal-scope obligations, e.g. ISS);
- a row with an IBGE code applies to that município's calendar only.

Federal obligations use the national calendar (DOMAIN.md, "Business days"): a state or municipal
holiday never moves a DARF/DAS, only the ISS of that place.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import InvalidInput
from app.fiscal.calendar import BusinessCalendar, get_calendar
from app.fiscal.holidays_local import uf_for_ibge
from app.platform import audit
from models import Holiday

__all__ = ["HolidayIndex", "add_holiday", "load_holiday_index"]


@dataclass
class HolidayIndex:
    """DB holidays grouped by scope; hands out cached calendars per (scope, uf, ibge)."""

    national: frozenset[date] = frozenset()
    by_uf: dict[str, frozenset[date]] = field(default_factory=dict)
    by_ibge: dict[str, frozenset[date]] = field(default_factory=dict)

    def national_calendar(self) -> BusinessCalendar:
        """The federal bank calendar plus operator-registered national closures."""
        return get_calendar(None, None, self.national)

    def local_calendar(self, uf: str | None, ibge: str | None) -> BusinessCalendar:
        """The calendar of a município (state + municipal holidays, shipped and registered)."""
        if not ibge and not uf:
            return self.national_calendar()
        extra = set(self.national)
        if uf:
            extra |= self.by_uf.get(uf.upper(), frozenset())
        if ibge:
            extra |= self.by_ibge.get(ibge, frozenset())
        try:
            return get_calendar(uf.upper() if uf else None, ibge or None, frozenset(extra))
        except InvalidInput:
            # A malformed IBGE code on an empresa must not stop a whole batch: fall back to UF.
            return get_calendar(uf.upper() if uf else None, None, frozenset(extra))

    def calendar(self, scope: str, uf: str | None, ibge: str | None) -> BusinessCalendar:
        """The calendar for an obligation's ``calendar_scope`` at the empresa's place."""
        if scope == "municipal":
            return self.local_calendar(uf, ibge)
        return self.national_calendar()


def load_holiday_index(session: Session) -> HolidayIndex:
    """Read every registered holiday once (the table is small)."""
    national: set[date] = set()
    by_uf: dict[str, set[date]] = defaultdict(set)
    by_ibge: dict[str, set[date]] = defaultdict(set)
    for day, uf, ibge in session.execute(select(Holiday.day, Holiday.uf, Holiday.ibge_code)):
        if ibge:
            by_ibge[ibge].add(day)
        elif uf:
            by_uf[uf.upper()].add(day)
        else:
            national.add(day)
    return HolidayIndex(
        national=frozenset(national),
        by_uf={k: frozenset(v) for k, v in by_uf.items()},
        by_ibge={k: frozenset(v) for k, v in by_ibge.items()},
    )


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
    if ibge_code:
        ibge_uf = uf_for_ibge(ibge_code)
        if uf and uf.upper() != ibge_uf:
            raise InvalidInput(
                f"O município {ibge_code} pertence à UF {ibge_uf}, não a {uf}.",
                code="uf_invalida",
            )
        uf = None  # a municipal row is keyed by its IBGE code alone
    uf = uf.upper() if uf else None
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
    row = Holiday(day=day, name=name, uf=uf, ibge_code=ibge_code)
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="feriado.cadastrado",
        entity="holiday",
        entity_id=row.id,
        details={"dia": day.isoformat(), "nome": name, "uf": uf, "ibge": ibge_code},
    )
    return row
