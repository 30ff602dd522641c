"""Order types as data (``data/order_types.toml``): loaded once, validated, looked up by code."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from app.errors import InvalidInput

__all__ = ["DEPARTMENTS", "OrderType", "order_type", "order_types", "types_version"]

DATA = Path(__file__).with_name("data") / "order_types.toml"
DEPARTMENTS = frozenset({"fiscal", "pessoal", "contabil", "societario"})


@dataclass(frozen=True, slots=True)
class OrderType:
    """One kind of request a client may open."""

    code: str
    name: str
    department: str
    sla_business_days: int
    required_attachments: tuple[str, ...]
    optional_attachments: tuple[str, ...]
    client_confirmation: bool
    legal_source: str = ""
    alert_business_days: int = 1  # SLA alert this many business days before the due date


def _parse(raw: dict[str, object], default_alert: int) -> OrderType:
    try:
        t = OrderType(
            code=str(raw["code"]),
            name=str(raw["name"]),
            department=str(raw["department"]),
            sla_business_days=int(raw["sla_business_days"]),  # type: ignore[call-overload]
            required_attachments=tuple(raw.get("required_attachments", ())),  # type: ignore[arg-type]
            optional_attachments=tuple(raw.get("optional_attachments", ())),  # type: ignore[arg-type]
            client_confirmation=bool(raw["client_confirmation"]),
            legal_source=str(raw.get("legal_source", "")),
            alert_business_days=int(raw.get("alert_business_days", default_alert)),  # type: ignore[call-overload]
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"order type {raw.get('code')!r}: {exc}") from exc
    if t.department not in DEPARTMENTS:
        raise ValueError(f"order type {t.code}: unknown department {t.department}")
    if not 1 <= t.sla_business_days <= 90:
        raise ValueError(f"order type {t.code}: SLA must be 1–90 business days")
    if not 0 <= t.alert_business_days <= t.sla_business_days:
        raise ValueError(f"order type {t.code}: alert must be 0 to SLA business days")
    return t


@lru_cache(maxsize=1)
def _load() -> tuple[str, dict[str, OrderType]]:
    doc = tomllib.loads(DATA.read_text(encoding="utf-8"))
    types: dict[str, OrderType] = {}
    default_alert = int(doc.get("alert_business_days", 1))
    for raw in doc["type"]:
        t = _parse(raw, default_alert)
        if t.code in types:
            raise ValueError(f"order type {t.code} defined twice")
        types[t.code] = t
    return str(doc["version"]), types


def order_types() -> list[OrderType]:
    """Every order type, in catalogue order."""
    return list(_load()[1].values())


def types_version() -> str:
    """The catalogue version (recorded in each run's summary)."""
    return _load()[0]


def order_type(code: str) -> OrderType:
    """The type of ``code``; 422 ``tipo_de_pedido_desconhecido`` otherwise."""
    found = _load()[1].get(code)
    if found is None:
        raise InvalidInput(
            "Tipo de pedido desconhecido.",
            code="tipo_de_pedido_desconhecido",
            tipos=sorted(_load()[1]),
        )
    return found
