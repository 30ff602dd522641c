"""Obligation catalogue (``data/obligations.toml``): due dates, target dates, auto-assignment.

The rules live in the data file; this module validates them and evaluates them:
- ``due_date`` applies the due rule, then the non-business-day rule, on the ``BusinessCalendar``
  it is given (federal obligations on the national calendar, municipal ones on the município's:
  the one calendar, registered holidays included, is ``app.obligations.calendar.calendar_for``);
- ``internal_target_date`` is the office's own deadline, N business days before the legal one;
- ``applicable_obligations`` derives a company's obligations from its regime and
  characteristics, so nobody attaches them by hand.

Quarterly obligations are generated only for quarter-end competências (03, 06, 09, 12); annual
ones only for their ``competencia_month`` (12 = the closed calendar year; e.g. DEFIS competência
12/2025 is due 31/03/2026). ``due_date`` refuses any other competência.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from enum import StrEnum
from functools import lru_cache
from importlib import resources
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from app.errors import ConfigError, InvalidInput, NotFound
from app.fiscal.calendar import BusinessCalendar
from app.fiscal.competencia import Competencia

__all__ = [
    "Catalogue",
    "Obligation",
    "Regime",
    "applicable_obligations",
    "competencias_due",
    "due_date",
    "effective_due_date",
    "internal_target_date",
    "is_generated_for",
    "load_catalogue",
]


class Regime(StrEnum):
    MEI = "MEI"
    SIMPLES = "SIMPLES"
    PRESUMIDO = "PRESUMIDO"
    REAL = "REAL"


_FROZEN = ConfigDict(frozen=True, extra="forbid")


class FixedDay(BaseModel):
    model_config = _FROZEN
    kind: Literal["fixed_day"]
    day: int = Field(ge=1, le=31)
    months_after: int = Field(ge=0, le=24)


class LastBusinessDay(BaseModel):
    model_config = _FROZEN
    kind: Literal["last_business_day"]
    months_after: int = Field(ge=0, le=24)


class FixedDate(BaseModel):
    model_config = _FROZEN
    kind: Literal["fixed_date"]
    month: int = Field(ge=1, le=12)
    day: int = Field(ge=1, le=31)
    years_after: int = Field(ge=0, le=2)


class NthBusinessDay(BaseModel):
    model_config = _FROZEN
    kind: Literal["nth_business_day"]
    n: int = Field(ge=1, le=20)
    months_after: int = Field(ge=0, le=24)


DueRule = Annotated[
    FixedDay | LastBusinessDay | FixedDate | NthBusinessDay, Field(discriminator="kind")
]


class ApplicabilityRule(BaseModel):
    """Matches when the regime is listed and the characteristic conditions hold."""

    model_config = _FROZEN
    regimes: tuple[Regime, ...] = Field(min_length=1)
    all_of: tuple[str, ...] = ()
    any_of: tuple[str, ...] = ()
    none_of: tuple[str, ...] = ()

    def matches(self, regime: Regime, traits: frozenset[str]) -> bool:
        """True when this rule selects a company of ``regime`` with ``traits``."""
        return (
            regime in self.regimes
            and all(c in traits for c in self.all_of)
            and (not self.any_of or any(c in traits for c in self.any_of))
            and not any(c in traits for c in self.none_of)
        )

    def conditions(self) -> set[str]:
        """Every characteristic this rule mentions."""
        return {*self.all_of, *self.any_of, *self.none_of}


class Obligation(BaseModel):
    """One catalogue entry (immutable; use ``with_overrides`` for per-company variants)."""

    model_config = _FROZEN
    code: str = Field(pattern=r"^[A-Z0-9][A-Z0-9-]*$")
    name: str
    periodicity: Literal["monthly", "quarterly", "annual"]
    competencia_month: int | None = Field(default=None, ge=1, le=12)
    due: DueRule
    non_business_day: Literal["anticipate", "postpone", "none"]
    applies_to: tuple[ApplicabilityRule, ...] = Field(min_length=1)
    department: Literal["fiscal", "pessoal", "contabil"]
    generates_guide: bool
    guide_type: Literal["DAS", "DARF", "GFD", "DAE", "ISS"] | None = None
    calendar_scope: Literal["national", "municipal"] = "national"
    template: bool = False
    lead_time_business_days: int = Field(ge=0, le=60)
    alert_business_days: tuple[int, ...] = (5, 2, 0)
    legal_source: str = Field(min_length=3)
    notes: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> Obligation:
        if self.generates_guide != (self.guide_type is not None):
            raise ValueError("guide_type is required exactly when generates_guide is true")
        if (self.periodicity == "annual") != (self.competencia_month is not None):
            raise ValueError("competencia_month is required exactly for annual obligations")
        alerts = self.alert_business_days
        if any(a < 0 for a in alerts) or list(alerts) != sorted(set(alerts), reverse=True):
            raise ValueError("alert_business_days must be distinct, >= 0, in descending order")
        return self

    def with_overrides(self, **fields: Any) -> Obligation:
        """A validated copy with per-company overrides (``due_day`` changes a fixed_day rule)."""
        data = self.model_dump()
        if "due_day" in fields:
            day = fields.pop("due_day")
            if data["due"]["kind"] != "fixed_day":
                raise InvalidInput(
                    f"A obrigação {self.code} não vence em dia fixo; não é possível mudar o dia.",
                    code="sobrescrita_invalida",
                )
            data["due"] = {**data["due"], "day": day}
        unknown = set(fields) - set(type(self).model_fields)
        if unknown:
            raise InvalidInput(
                f"Campos desconhecidos para {self.code}: {', '.join(sorted(unknown))}.",
                code="sobrescrita_invalida",
            )
        data.update(fields)
        try:
            return type(self).model_validate(data)
        except ValidationError as exc:
            raise InvalidInput(
                f"Sobrescrita inválida para {self.code}: {exc.errors()[0]['msg']}.",
                code="sobrescrita_invalida",
            ) from exc


class Catalogue(BaseModel):
    """The versioned set of obligations and the characteristics their rules may mention."""

    model_config = _FROZEN
    version: str
    characteristics: dict[str, str]
    obligation: tuple[Obligation, ...]

    @model_validator(mode="after")
    def _consistent(self) -> Catalogue:
        codes = [o.code for o in self.obligation]
        if len(codes) != len(set(codes)):
            raise ValueError("duplicate obligation code")
        for ob in self.obligation:
            for rule in ob.applies_to:
                unknown = rule.conditions() - set(self.characteristics)
                if unknown:
                    raise ValueError(f"{ob.code}: unknown characteristics {sorted(unknown)}")
        return self

    @property
    def obligations(self) -> tuple[Obligation, ...]:
        """Every obligation, in catalogue order."""
        return self.obligation

    def get(self, code: str) -> Obligation:
        """The obligation with ``code``, or NotFound."""
        for ob in self.obligation:
            if ob.code == code:
                return ob
        raise NotFound(f"Obrigação desconhecida: {code}.", code="obrigacao_desconhecida")


@lru_cache(maxsize=1)
def load_catalogue() -> Catalogue:
    """Load and validate the shipped catalogue (cached for the process)."""
    raw = resources.files("app.fiscal").joinpath("data/obligations.toml").read_text("utf-8")
    try:
        return Catalogue.model_validate(tomllib.loads(raw))
    except (ValidationError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError([f"Catálogo de obrigações inválido: {exc}"]) from exc


def is_generated_for(obligation: Obligation, competencia: Competencia) -> bool:
    """Whether a task of ``obligation`` exists for ``competencia`` (quarter end / annual month)."""
    if obligation.periodicity == "quarterly":
        return competencia.is_quarter_end
    if obligation.periodicity == "annual":
        return competencia.month == obligation.competencia_month
    return True


def competencias_due(
    obligation: Obligation, start: Competencia, end: Competencia | None = None
) -> list[Competencia]:
    """The competências in [start, end] (end defaults to start) that generate a task."""
    last = start if end is None else end
    return [c for c in Competencia.range(start, last) if is_generated_for(obligation, c)]


def _apply_non_business_rule(obligation: Obligation, d: date, cal: BusinessCalendar) -> date:
    if obligation.non_business_day == "anticipate":
        return cal.previous_business_day(d)
    if obligation.non_business_day == "postpone":
        return cal.next_business_day(d)
    return d


def due_date(obligation: Obligation, competencia: Competencia, calendar: BusinessCalendar) -> date:
    """The legal due date of ``obligation`` for ``competencia`` on ``calendar``."""
    if not is_generated_for(obligation, competencia):
        raise InvalidInput(
            f"A obrigação {obligation.code} não é gerada na competência {competencia.label}.",
            code="competencia_sem_obrigacao",
        )
    rule = obligation.due
    if isinstance(rule, LastBusinessDay):
        month = competencia.shift(rule.months_after)
        return calendar.last_business_day(month.year, month.month)
    if isinstance(rule, NthBusinessDay):
        month = competencia.shift(rule.months_after)
        return calendar.add_business_days(month.first_day - timedelta(days=1), rule.n)
    if isinstance(rule, FixedDay):
        raw = competencia.shift(rule.months_after).day(rule.day)
    else:
        raw = Competencia(competencia.year + rule.years_after, rule.month).day(rule.day)
    return _apply_non_business_rule(obligation, raw, calendar)


def effective_due_date(due: date, calendar: BusinessCalendar) -> date:
    """The last business day on or before ``due``: the day work must really be done by.

    A legal date kept on a non-business day (DEFIS on Saturday 31/03/2029, Res. CGSN 140/2018
    art. 72; rule ``non_business_day = "none"``) leaves no business day after the previous one;
    targets and alerts count back from this date so that both agree.
    """
    return calendar.previous_business_day(due)


def internal_target_date(obligation: Obligation, due: date, calendar: BusinessCalendar) -> date:
    """The office's internal deadline: ``lead_time_business_days`` business days before the
    effective due date (:func:`effective_due_date`), so an alert of N business days falls on it."""
    effective = effective_due_date(due, calendar)
    return calendar.add_business_days(effective, -obligation.lead_time_business_days)


def applicable_obligations(
    regime: Regime | str,
    characteristics: Iterable[str] | Mapping[str, bool] = (),
    catalogue: Catalogue | None = None,
) -> list[Obligation]:
    """The obligations a company of ``regime`` with ``characteristics`` must fulfil."""
    cat = catalogue if catalogue is not None else load_catalogue()
    try:
        reg = Regime(str(regime).upper())
    except ValueError as exc:
        raise InvalidInput(
            f"Regime tributário desconhecido: {regime!r}.", code="regime_desconhecido"
        ) from exc
    if isinstance(characteristics, Mapping):
        traits = frozenset(k for k, v in characteristics.items() if v)
    else:
        traits = frozenset(characteristics)
    unknown = traits - set(cat.characteristics)
    if unknown:
        raise InvalidInput(
            f"Características desconhecidas: {', '.join(sorted(unknown))}.",
            code="caracteristica_desconhecida",
        )
    return [ob for ob in cat.obligation if any(r.matches(reg, traits) for r in ob.applies_to)]
