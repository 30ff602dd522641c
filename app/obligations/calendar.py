"""The one business-day calendar of the platform: national + UF + município + registered holidays.

National holidays, Carnaval and the shipped municipal table are code/data in ``app.fiscal``; this
module adds what operators register at run time (``holidays`` table, see
``app.obligations.holidays``) and is the only place a flow or service gets a calendar from:

- :func:`calendar_for` — the calendar of an obligation scope at an empresa's place;
- :func:`office_calendar` / :func:`is_business_day` — the office's own working days (the federal
  bank calendar plus registered national closures), which decide whether a daily job acts.

Registered rows apply by place: a row with neither UF nor IBGE is an extra *national* bank
closure (every calendar); a row with a UF applies to that state's calendars; a row with an IBGE
code to that município's only. Federal obligations use the national calendar (a state or
municipal holiday never moves a DARF/DAS: Res. CGSN 140/2018 art. 40 and the federal laws
postpone to the next *bank* business day), only the ISS of that place follows local holidays.
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
from app.obligations.holidays import add_holiday, list_holidays, remove_holiday
from models import Holiday

__all__ = [
    "HolidayIndex",
    "add_holiday",
    "calendar_for",
    "is_business_day",
    "list_holidays",
    "load_holiday_index",
    "office_calendar",
    "remove_holiday",
]


@dataclass
class HolidayIndex:
    """Registered holidays grouped by place; hands out the shared calendars (cached in fiscal)."""

    national: frozenset[date] = frozenset()
    by_uf: dict[str, frozenset[date]] = field(default_factory=dict)
    by_ibge: dict[str, frozenset[date]] = field(default_factory=dict)

    def national_calendar(self) -> BusinessCalendar:
        """The federal bank calendar plus operator-registered national closures."""
        return get_calendar(None, None, self.national)

    def local_calendar(self, uf: str | None, ibge: str | None) -> BusinessCalendar:
        """The calendar of a município (state + municipal holidays, shipped and registered)."""
        uf = uf.upper() if uf else None
        ibge = ibge or None
        if ibge is not None and uf is None:
            try:
                uf = uf_for_ibge(ibge)
            except InvalidInput:
                ibge = None
        if ibge is None and uf is None:
            return self.national_calendar()
        extra = set(self.national)
        if uf:
            extra |= self.by_uf.get(uf, frozenset())
        if ibge:
            extra |= self.by_ibge.get(ibge, frozenset())
        try:
            return get_calendar(uf, ibge, frozenset(extra))
        except InvalidInput:
            # A malformed IBGE code on an empresa must not stop a whole batch: fall back to UF.
            return get_calendar(uf, None, frozenset(extra))

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


def _index(source: Session | HolidayIndex) -> HolidayIndex:
    return source if isinstance(source, HolidayIndex) else load_holiday_index(source)


def calendar_for(
    source: Session | HolidayIndex,
    *,
    scope: str = "national",
    uf: str | None = None,
    ibge: str | None = None,
) -> BusinessCalendar:
    """The calendar of an obligation ``scope`` (``national`` | ``municipal``) at a place.

    ``source`` is a session (the registered holidays are read) or an index already loaded
    (bulk paths load it once per chunk)."""
    return _index(source).calendar(scope, uf, ibge)


def office_calendar(source: Session | HolidayIndex) -> BusinessCalendar:
    """The office's working days: the federal bank calendar plus registered national closures."""
    return _index(source).national_calendar()


def is_business_day(source: Session | HolidayIndex, day: date) -> bool:
    """Whether the office works on ``day`` (daily jobs skip the other days)."""
    return office_calendar(source).is_business_day(day)
