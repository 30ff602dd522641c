"""Business-day (dia útil) calendar for due dates: national ∪ state ∪ municipal holidays.

Rules (DOMAIN.md, "Business days"):
- A business day for payments is a day with bank service: not Saturday/Sunday, not a national
  holiday (Lei 662/1949 and later laws; 20/11 is national since Lei 14.759/2023, i.e. from 2024),
  not Carnaval Monday/Tuesday and not Corpus Christi (Easter + 60): both are only federal "pontos
  facultativos", but Res. CMN 4.880/2020 and Febraban's bank-holiday calendar give no bank
  service on them anywhere in the country, even where the município works. Ash Wednesday is a
  business day.
- 31/12 has no bank service to the public (Res. CMN 4.880/2020, formerly Res. CMN 2.932/2002),
  so by default it is not a business day: a due date on it is anticipated or postponed by the
  obligation's own rule, and "last business day of December" is 30/12 (or earlier).
- State holidays come from ``holidays`` (``subdiv=UF``); municipal ones from the IBGE-keyed
  table in ``holidays_local``; ``extra`` carries operator-registered dates from the database.
- We deliberately do not use the stock-exchange calendar of ``holidays`` (BVMF also closes on
  24/12, a bank business day).
"""

from __future__ import annotations

import calendar as _stdcal
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from functools import lru_cache
from types import MappingProxyType

import holidays
from dateutil.easter import easter

from app.errors import InvalidInput
from app.fiscal.holidays_local import municipal_holidays, uf_for_ibge

__all__ = ["BusinessCalendar", "get_calendar"]

_ONE_DAY = timedelta(days=1)
_UFS = frozenset(s for s in holidays.Brazil.subdivisions if len(s) == 2)

# Bank closures that are not public holidays, as offsets from Easter Sunday: Carnaval Monday and
# Tuesday (Easter − 48, − 47) and Corpus Christi (Easter + 60) — Res. CMN 4.880/2020, Febraban.
_BANK_CLOSURE_OFFSETS: Mapping[int, str] = MappingProxyType(
    {
        -48: "Carnaval (segunda-feira)",
        -47: "Carnaval (terça-feira)",
        60: "Corpus Christi (sem expediente bancário)",
    }
)


@lru_cache(maxsize=1024)
def _public_holidays(uf: str | None, year: int) -> Mapping[date, str]:
    """National (and state, when ``uf``) public holidays plus the bank-closure days of ``year``."""
    base = holidays.country_holidays("BR", subdiv=uf, years=year, language="pt_BR")
    out: dict[date, str] = dict(base.items())
    easter_sunday = easter(year)
    for offset, name in _BANK_CLOSURE_OFFSETS.items():
        out.setdefault(easter_sunday + timedelta(days=offset), name)
    return MappingProxyType(out)


class BusinessCalendar:
    """Bank business days for a place: national, or a UF, or a municipality (IBGE code)."""

    def __init__(
        self,
        uf: str | None = None,
        ibge: str | None = None,
        extra: Iterable[date] = (),
        *,
        closed_dec_31: bool = True,
    ) -> None:
        if ibge is not None:
            ibge_uf = uf_for_ibge(ibge)
            if uf is not None and uf.upper() != ibge_uf:
                raise InvalidInput(
                    f"O município {ibge} pertence à UF {ibge_uf}, não a {uf}.", code="uf_invalida"
                )
            uf = ibge_uf
        if uf is not None:
            uf = uf.upper()
            if uf not in _UFS:
                raise InvalidInput(f"UF desconhecida: {uf!r}.", code="uf_invalida")
        self.uf = uf
        self.ibge = ibge
        self.closed_dec_31 = closed_dec_31
        self._extra = frozenset(extra)
        self._years: dict[int, frozenset[date]] = {}

    def __repr__(self) -> str:
        return f"BusinessCalendar(uf={self.uf!r}, ibge={self.ibge!r}, extra={len(self._extra)})"

    def holidays(self, year: int) -> Mapping[date, str]:
        """Holidays and bank closures of ``year`` (weekends aside), with pt-BR names."""
        out = dict(_public_holidays(self.uf, year))
        if self.ibge is not None:
            out.update(municipal_holidays(self.ibge, year))
        if self.closed_dec_31:
            out.setdefault(date(year, 12, 31), "Sem expediente bancário (31/12)")
        for d in self._extra:
            if d.year == year:
                out.setdefault(d, "Feriado cadastrado")
        return MappingProxyType(out)

    def _closed(self, year: int) -> frozenset[date]:
        days = self._years.get(year)
        if days is None:
            days = frozenset(self.holidays(year))
            self._years[year] = days
        return days

    def is_business_day(self, d: date) -> bool:
        """True when ``d`` is neither a weekend nor a holiday/closure of this calendar."""
        return d.weekday() < 5 and d not in self._closed(d.year)

    def next_business_day(self, d: date) -> date:
        """``d`` itself when it is a business day, otherwise the first one after it."""
        while not self.is_business_day(d):
            d += _ONE_DAY
        return d

    def previous_business_day(self, d: date) -> date:
        """``d`` itself when it is a business day, otherwise the last one before it."""
        while not self.is_business_day(d):
            d -= _ONE_DAY
        return d

    def add_business_days(self, d: date, n: int) -> date:
        """The n-th business day strictly after ``d`` (before it when n < 0); ``d`` when n == 0."""
        step = _ONE_DAY if n > 0 else -_ONE_DAY
        remaining = abs(n)
        while remaining:
            d += step
            if self.is_business_day(d):
                remaining -= 1
        return d

    def business_days_between(self, a: date, b: date) -> int:
        """Business days in (a, b] (negative, counting [b, a), when b < a): 0 when a == b."""
        if b < a:
            return -self.business_days_between(b, a)
        count = 0
        d = a
        while d < b:
            d += _ONE_DAY
            if self.is_business_day(d):
                count += 1
        return count

    def last_business_day(self, year: int, month: int) -> date:
        """The last business day of ``year``-``month``."""
        last = date(year, month, _stdcal.monthrange(year, month)[1])
        return self.previous_business_day(last)


@lru_cache(maxsize=256)
def get_calendar(
    uf: str | None = None, ibge: str | None = None, extra: frozenset[date] = frozenset()
) -> BusinessCalendar:
    """A shared, cached calendar for (uf, ibge, extra) — build once, reuse everywhere."""
    return BusinessCalendar(uf=uf, ibge=ibge, extra=extra)
