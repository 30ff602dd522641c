"""Office-level settings operators change at run time (no redeploy), validated and audited.

Stored in ``office_settings`` as JSON objects. Every key the platform reads is declared in
:data:`SETTINGS` with its defaults and bounds; the API refuses anything else.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.errors import InvalidInput, NotFound
from app.platform import audit
from models import OfficeSetting

__all__ = ["SETTINGS", "office_settings", "office_value", "set_office_settings"]


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


# key → (defaults, validators per field, what it means)
SETTINGS: dict[str, tuple[dict[str, Any], dict[str, Callable[[Any], Any]], str]] = {
    "dia_geracao_guias": (
        {"dia": 5}, {"dia": _int(1, 28)}, "Dia do mês em que gerar-guias gera as guias (guia §7.4)"
    ),
    "dia_solicitacoes_mensais": (
        {"dia": 1}, {"dia": _int(1, 28)}, "Dia do mês a partir do qual as solicitações são criadas"
    ),
    "lembretes_solicitacoes": (
        {"a_cada_dias_uteis": 3, "maximo": 4},
        {"a_cada_dias_uteis": _int(1, 30), "maximo": _int(0, 20)},
        "Ciclo de lembretes das solicitações mensais",
    ),
    "nome_escritorio": (
        {"valor": ""}, {"valor": _text(120)}, "Nome do escritório nas guias e mensagens"
    ),
}  # fmt: skip


def office_settings(session: Session, key: str, defaults: dict[str, Any]) -> dict[str, Any]:
    """The stored JSON object of key merged over defaults."""
    value = session.scalar(select(OfficeSetting.value).where(OfficeSetting.key == key))
    return {**defaults, **(value if isinstance(value, dict) else {})}


def office_value(session: Session, key: str, default: Any) -> Any:
    """The single value of a one-field setting (``valor`` or ``dia``), or default."""
    merged = office_settings(session, key, {})
    value = merged.get("valor", merged.get("dia"))
    return default if value in (None, "") else value


def set_office_settings(
    session: Session, *, key: str, value: dict[str, Any], actor: str
) -> dict[str, Any]:
    """Validate and store a declared setting (audited with the old and new value)."""
    if key not in SETTINGS:
        raise NotFound(f"Configuração desconhecida: {key}.", code="configuracao_desconhecida")
    defaults, checks, _ = SETTINGS[key]
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
    session.execute(
        insert(OfficeSetting)
        .values(key=key, value=after)
        .on_conflict_do_update(index_elements=["key"], set_={"value": after})
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
