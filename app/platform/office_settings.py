"""Office-level settings operators change at run time (no redeploy), validated and audited;
and the office's day: what date it is at the office and whether a monthly job's day has come.

Stored in ``office_settings`` as JSON objects. Every key the platform reads is declared once in
:data:`SETTINGS` with its defaults, bounds and meaning — the one table of defaults: readers ask
:func:`office_settings` / :func:`office_value` without repeating a default, and the API refuses
any key or field the table does not declare.
"""

from __future__ import annotations

import calendar as _stdcal
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import InvalidInput, NotFound
from app.fiscal.competencia import Competencia
from app.platform import audit
from app.settings import get_settings
from app.sqlcompat import upsert
from models import OfficeSetting

__all__ = [
    "GENERATION_DAY",
    "MONTHLY_REQUESTS_DAY",
    "OFFICE_NAME",
    "REMINDERS",
    "SETTINGS",
    "OfficeDay",
    "current_competencia",
    "office_day",
    "office_settings",
    "office_today",
    "office_value",
    "set_office_settings",
    "setting_defaults",
]


def _int(lo: int, hi: int) -> Callable[[Any], int]:
    def check(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise ValueError(f"inteiro entre {lo} e {hi}")
        return v

    return check


def _text(max_len: int) -> Callable[[Any], str]:
    def check(v: Any) -> str:
        if not isinstance(v, str) or not 1 <= len(v.strip()) <= max_len:
            raise ValueError(f"texto de 1 a {max_len} caracteres")
        return v.strip()

    return check


GENERATION_DAY = "dia_geracao_guias"
MONTHLY_REQUESTS_DAY = "dia_solicitacoes_mensais"
REMINDERS = "lembretes_solicitacoes"
OFFICE_NAME = "nome_escritorio"

# key → (defaults, validators per field, what it means). Days stop at 28: every month has them.
SETTINGS: dict[str, tuple[dict[str, Any], dict[str, Callable[[Any], Any]], str]] = {
    GENERATION_DAY: (
        {"dia": 5}, {"dia": _int(1, 28)}, "Dia do mês em que gerar-guias gera as guias (guia §7.4)"
    ),
    MONTHLY_REQUESTS_DAY: (
        {"dia": 1}, {"dia": _int(1, 28)}, "Dia do mês a partir do qual as solicitações são criadas"
    ),
    REMINDERS: (
        {"a_cada_dias_uteis": 3, "maximo": 4},
        {"a_cada_dias_uteis": _int(1, 30), "maximo": _int(0, 20)},
        "Ciclo de lembretes das solicitações mensais",
    ),
    # Empty: the e-mail sender name (MAIL_FROM_NAME) is used.
    OFFICE_NAME: (
        {"valor": ""}, {"valor": _text(120)}, "Nome do escritório nas guias e mensagens"
    ),
}  # fmt: skip


def setting_defaults(key: str) -> dict[str, Any]:
    """The declared defaults of ``key`` (a copy); NotFound for an undeclared key."""
    if key not in SETTINGS:
        raise NotFound(f"Configuração desconhecida: {key}.", code="configuracao_desconhecida")
    return dict(SETTINGS[key][0])


def office_settings(
    session: Session, key: str, defaults: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The stored JSON object of ``key`` merged over its declared defaults.

    ``defaults`` is only for keys outside :data:`SETTINGS`; declared keys always use the table."""
    base = setting_defaults(key) if key in SETTINGS or defaults is None else dict(defaults)
    value = session.scalar(select(OfficeSetting.value).where(OfficeSetting.key == key))
    return {**base, **(value if isinstance(value, dict) else {})}


def office_value(session: Session, key: str, default: Any = None) -> Any:
    """The single value of a one-field setting (``valor`` or ``dia``).

    An empty value falls back to ``default`` when given (e.g. the office name falls back to
    MAIL_FROM_NAME), else to the declared default."""
    merged = office_settings(session, key)
    value = merged.get("valor", merged.get("dia"))
    if value in (None, ""):
        return default if default is not None else value
    return value


def set_office_settings(
    session: Session, *, key: str, value: dict[str, Any], actor: str
) -> dict[str, Any]:
    """Validate and store a declared setting (audited with the old and new value)."""
    defaults = setting_defaults(key)
    _, checks, _ = SETTINGS[key]
    unknown = set(value) - set(checks)
    if unknown:
        raise InvalidInput(
            f"Campos desconhecidos: {', '.join(sorted(unknown))}.", code="campo_desconhecido"
        )
    clean: dict[str, Any] = {}
    for name, raw in value.items():
        try:
            clean[name] = checks[name](raw)
        except ValueError as exc:
            raise InvalidInput(f"{name}: {exc}.", code="valor_invalido") from exc
    before = office_settings(session, key, defaults)
    after = {**before, **clean}
    upsert(
        session,
        OfficeSetting,
        [{"key": key, "value": after}],
        index_elements=["key"],
        set_=lambda new: [("value", new.value)],
    )
    audit.record(
        session,
        actor=actor,
        action="configuracao.alterada",
        entity="office_setting",
        entity_id=key,
        details={"antes": before, "depois": after},
    )
    return after


# ---------------------------------------------------------------------------- the office's day


def office_today(now: datetime | None = None) -> date:
    """The date at the office (OFFICE_TIMEZONE, America/Sao_Paulo by default) at ``now``.

    Every "today" of a flow or service comes from here: ``now`` is a run's scheduled time, a
    request's clock or, when None, the wall clock."""
    moment = now if now is not None else datetime.now(UTC)
    return moment.astimezone(ZoneInfo(get_settings().OFFICE_TIMEZONE)).date()


def current_competencia(now: datetime | None = None) -> Competencia:
    """The competência of today at the office."""
    return Competencia.of(office_today(now))


@dataclass(frozen=True, slots=True)
class OfficeDay:
    """A monthly job's configured day compared with ``today``."""

    day: int  # the configured day, clamped to the month's last day
    is_today: bool  # today is that day (jobs that act once: gerar-guias)
    reached: bool  # today is that day or later (jobs that catch up: solicitações)


def office_day(session: Session, *, key: str, today: date) -> OfficeDay:
    """Whether ``today`` is the office's day for the monthly setting ``key`` (``dia``)."""
    configured = int(office_settings(session, key)["dia"])
    if not 1 <= configured <= 31:
        raise InvalidInput(f"{key} deve estar entre 1 e 28.", code="configuracao_invalida")
    day = min(configured, _stdcal.monthrange(today.year, today.month)[1])
    return OfficeDay(day=day, is_today=today.day == day, reached=today.day >= day)
