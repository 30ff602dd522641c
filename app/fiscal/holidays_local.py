"""Municipal holidays by IBGE code, loaded from ``data/local_holidays.toml``.

National and state holidays come from the ``holidays`` package (see ``calendar.py``); this
module only adds what that package does not know: the municipal ones, which matter for ISS
guides and office alerts. The table is data an operator can extend; the database layer can
also pass extra dates straight to ``BusinessCalendar(extra=...)``.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from functools import lru_cache
from importlib import resources
from types import MappingProxyType

from dateutil.easter import easter
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from app.errors import ConfigError, InvalidInput

__all__ = [
    "CAPITALS",
    "LocalHoliday",
    "LocalHolidayTable",
    "Municipality",
    "load_local_holidays",
    "has_calendar",
    "municipal_holidays",
    "uf_for_ibge",
    "without_calendar",
]

# IBGE state codes: the first two digits of a 7-digit municipality code (IBGE, "Códigos dos
# municípios" table).
IBGE_UF: dict[str, str] = {
    "11": "RO", "12": "AC", "13": "AM", "14": "RR", "15": "PA", "16": "AP", "17": "TO",
    "21": "MA", "22": "PI", "23": "CE", "24": "RN", "25": "PB", "26": "PE", "27": "AL",
    "28": "SE", "29": "BA", "31": "MG", "32": "ES", "33": "RJ", "35": "SP", "41": "PR",
    "42": "SC", "43": "RS", "50": "MS", "51": "MT", "52": "GO", "53": "DF",
}  # fmt: skip


# IBGE codes of the 27 capitals (IBGE, "Códigos dos municípios"): each must have a calendar.
CAPITALS: tuple[str, ...] = (
    "1100205", "1200401", "1302603", "1400100", "1501402", "1600303", "1721000", "2111300",
    "2211001", "2304400", "2408102", "2507507", "2611606", "2704302", "2800308", "2927408",
    "3106200", "3205309", "3304557", "3550308", "4106902", "4205407", "4314902", "5002704",
    "5103403", "5208707", "5300108",
)  # fmt: skip


class LocalHoliday(BaseModel):
    """One municipal holiday: a fixed day of the year or an offset from Easter Sunday."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    source: str
    month: int | None = Field(default=None, ge=1, le=12)
    day: int | None = Field(default=None, ge=1, le=31)
    easter_offset: int | None = None
    since: int | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> LocalHoliday:
        fixed = self.month is not None and self.day is not None
        if fixed == (self.easter_offset is not None):
            raise ValueError("use either month+day or easter_offset")
        return self

    def on(self, year: int) -> date | None:
        """The date of this holiday in ``year`` (None before ``since``)."""
        if self.since is not None and year < self.since:
            return None
        if self.easter_offset is not None:
            return easter(year) + timedelta(days=self.easter_offset)
        assert self.month is not None and self.day is not None
        return date(year, self.month, self.day)


class Municipality(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    ibge: str = Field(pattern=r"^\d{7}$")
    name: str
    uf: str = Field(pattern=r"^[A-Z]{2}$")
    holidays: tuple[LocalHoliday, ...] = ()

    @model_validator(mode="after")
    def _uf_matches_code(self) -> Municipality:
        if IBGE_UF.get(self.ibge[:2]) != self.uf:
            raise ValueError(f"IBGE {self.ibge} is not in UF {self.uf}")
        return self


class LocalHolidayTable(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str
    municipality: tuple[Municipality, ...] = ()

    def by_ibge(self) -> dict[str, Municipality]:
        """Index of the table by IBGE code."""
        return {m.ibge: m for m in self.municipality}


@lru_cache(maxsize=1)
def load_local_holidays() -> LocalHolidayTable:
    """Load and validate the shipped municipal-holiday table (cached)."""
    raw = resources.files("app.fiscal").joinpath("data/local_holidays.toml").read_text("utf-8")
    try:
        table = LocalHolidayTable.model_validate(tomllib.loads(raw))
    except (ValidationError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError([f"Tabela de feriados municipais inválida: {exc}"]) from exc
    codes = [m.ibge for m in table.municipality]
    if len(codes) != len(set(codes)):
        raise ConfigError(["Tabela de feriados municipais com código IBGE repetido."])
    return table


def uf_for_ibge(ibge: str) -> str:
    """The UF of a 7-digit IBGE municipality code."""
    uf = IBGE_UF.get(ibge[:2]) if len(ibge) == 7 and ibge.isdigit() else None
    if uf is None:
        raise InvalidInput(f"Código IBGE de município inválido: {ibge!r}.", code="ibge_invalido")
    return uf


@lru_cache(maxsize=4096)
def municipal_holidays(ibge: str, year: int) -> Mapping[date, str]:
    """Municipal holidays of ``ibge`` in ``year`` (empty when the table does not know it)."""
    uf_for_ibge(ibge)
    muni = load_local_holidays().by_ibge().get(ibge)
    if muni is None:
        return MappingProxyType({})
    out: dict[date, str] = {}
    for hol in muni.holidays:
        d = hol.on(year)
        if d is not None:
            out[d] = hol.name
    return MappingProxyType(out)


def has_calendar(ibge: str | None) -> bool:
    """True when the shipped table knows ``ibge`` (its municipal holidays, possibly none)."""
    return bool(ibge) and ibge in load_local_holidays().by_ibge()


def without_calendar(ibges: Iterable[str | None]) -> list[str]:
    """The distinct IBGE codes among ``ibges`` that have no municipal calendar (sorted).

    An empresa there would silently get no local holidays: operators must see it (API field,
    ``contab check``, the monitoring metric) and register its holidays.
    """
    table = load_local_holidays().by_ibge()
    return sorted({code for code in ibges if code and code not in table})
