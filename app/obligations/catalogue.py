"""Obligations in the database: catalogue sync, automatic assignment, per-company overrides.

- ``sync_catalogue`` loads ``app/fiscal/data/obligations.toml`` into ``obligations`` (versioned:
  a changed entry is updated and audited; an entry that left the catalogue is deactivated, never
  deleted, because tarefas reference it). Custom obligations (``custom = true``) created by
  operators are never touched by the sync.
- Assignment derives an empresa's obligations from its regime and characteristics
  (``company_obligations``, source ``auto``). Each row is valid for competências
  ``valid_from ..= valid_until``: a regime change at competência E closes the rows that no longer
  apply at E-1 and opens the new ones at E, so past tasks are never touched. One row per
  (empresa, obligation) (unique key): an obligation that returns after a gap restarts at its new
  ``valid_from`` (tasks already generated for the old period stay).
- Rows with ``source = manual`` (attached by an operator) and rows an operator deactivated are
  left alone by automatic assignment. ``overrides`` holds per-company rule changes (``due_day``,
  ``lead_time_business_days``, ``alert_business_days``, ``department`` …) and
  ``responsible_staff_id``; operators set them, and create custom obligations, through
  ``app.obligations.custom``.

``office_today`` and ``current_competencia`` are re-exported from ``app.platform.office_settings``
(the one place that decides the office's date).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.errors import MISSING_EMPRESA, InvalidInput
from app.fiscal.competencia import Competencia
from app.fiscal.obligations import Catalogue, Regime, load_catalogue
from app.fiscal.obligations import Obligation as Rule
from app.platform import audit
from app.platform.office_settings import current_competencia, office_today
from app.sqlcompat import insert_many_ignore, is_mysql
from models import CompanyObligation, Empresa, Obligation

__all__ = [
    "NON_RULE_OVERRIDES",
    "Assignment",
    "ObligationRow",
    "active_obligations",
    "assign_empresa",
    "current_competencia",
    "dump_json",
    "effective_rule",
    "active_empresa_traits",
    "empresa_traits",
    "office_today",
    "reconcile_assignments",
    "rule_from_json",
    "sync_catalogue",
]

# Override keys that are not part of the due-date rule.
NON_RULE_OVERRIDES = frozenset({"responsible_staff_id"})
# Characteristics stored as columns of ``empresas`` (the rest live in ``characteristics``).
_TRAIT_COLUMNS = ("has_employees", "has_withholdings", "is_service_provider")


@lru_cache(maxsize=4096)
def _parse_rule(rule_json: str) -> Rule:
    return Rule.model_validate(json.loads(rule_json))


def dump_json(value: Mapping[str, Any]) -> str:
    """Canonical JSON text of a rule/overrides mapping (a cache key)."""
    return json.dumps(value, sort_keys=True, default=str)


@lru_cache(maxsize=8192)
def rule_from_json(rule_json: str, overrides_json: str = "{}") -> Rule:
    """The validated rule (canonical JSON) with overrides (canonical JSON) applied; cached."""
    base = _parse_rule(rule_json)
    fields = {k: v for k, v in json.loads(overrides_json).items() if k not in NON_RULE_OVERRIDES}
    if "alert_business_days" in fields:
        fields["alert_business_days"] = tuple(fields["alert_business_days"])
    return base.with_overrides(**fields) if fields else base


def effective_rule(rule: Mapping[str, Any], overrides: Mapping[str, Any] | None = None) -> Rule:
    """The validated rule of an obligation row with a company's overrides applied (cached)."""
    return rule_from_json(dump_json(rule), dump_json(overrides or {}))


@dataclass(frozen=True, slots=True)
class ObligationRow:
    """An active obligation as generation needs it (no ORM object)."""

    id: int
    code: str
    rule: Rule
    rule_json: str


def active_obligations(session: Session) -> dict[int, ObligationRow]:
    """Every active obligation (catalogue and custom), by id."""
    out: dict[int, ObligationRow] = {}
    for oid, code, rule in session.execute(
        select(Obligation.id, Obligation.code, Obligation.rule).where(Obligation.active.is_(True))
    ):
        raw = dump_json(rule)
        out[oid] = ObligationRow(oid, code, _parse_rule(raw), raw)
    return out


def sync_catalogue(
    session: Session, *, catalogue: Catalogue | None = None, actor: str = "sistema"
) -> dict[str, int]:
    """Load the shipped catalogue into ``obligations`` (idempotent; custom rows untouched)."""
    cat = catalogue if catalogue is not None else load_catalogue()
    rows = {o.code: o for o in session.scalars(select(Obligation))}
    out = {"inseridas": 0, "atualizadas": 0, "desativadas": 0, "inalteradas": 0, "conflitos": 0}
    for ob in cat.obligations:
        rule = ob.model_dump(mode="json")
        fields = {
            "name": ob.name,
            "rule": rule,
            "department": ob.department,
            "generates_guide": ob.generates_guide,
            "catalogue_version": cat.version,
            "active": True,
        }
        row = rows.get(ob.code)
        if row is None:
            session.add(Obligation(code=ob.code, custom=False, **fields))
            out["inseridas"] += 1
            continue
        if row.custom:
            out["conflitos"] += 1  # an operator's custom code shadows the catalogue entry
            continue
        if all(getattr(row, k) == v for k, v in fields.items()):
            out["inalteradas"] += 1
            continue
        if row.rule != rule:
            audit.record(
                session,
                actor=actor,
                action="obrigacao.regra_atualizada",
                entity="obligation",
                entity_id=row.id,
                details={"codigo": ob.code, "de": row.catalogue_version, "para": cat.version},
            )
        for k, v in fields.items():
            setattr(row, k, v)
        out["atualizadas"] += 1
    shipped = {o.code for o in cat.obligations}
    for code, row in rows.items():
        if not row.custom and code not in shipped and row.active:
            row.active = False
            out["desativadas"] += 1
    session.flush()
    return out


def empresa_traits(
    *,
    has_employees: bool,
    has_withholdings: bool,
    is_service_provider: bool,
    characteristics: Mapping[str, Any] | None,
) -> frozenset[str]:
    """The characteristics an applicability rule sees (columns + truthy free-form flags)."""
    flags = {k for k, v in (characteristics or {}).items() if v}
    values = (has_employees, has_withholdings, is_service_provider)
    cols = dict(zip(_TRAIT_COLUMNS, values, strict=True))
    return frozenset(flags | {k for k, v in cols.items() if v})


def active_empresa_traits(
    session: Session, empresa_ids: Sequence[int]
) -> list[tuple[int, str, frozenset[str]]]:
    """(id, regime, traits) of the active empresas among empresa_ids, in one query."""
    rows = session.execute(
        select(
            Empresa.id,
            Empresa.regime,
            Empresa.has_employees,
            Empresa.has_withholdings,
            Empresa.is_service_provider,
            Empresa.characteristics,
        ).where(Empresa.id.in_(list(empresa_ids)), Empresa.active.is_(True))
    ).all()
    return [
        (
            eid,
            regime,
            empresa_traits(
                has_employees=emp, has_withholdings=wh, is_service_provider=sp, characteristics=ch
            ),
        )
        for eid, regime, emp, wh, sp, ch in rows
    ]


def _desired(regime: str, traits: frozenset[str], obligations: Iterable[ObligationRow]) -> set[int]:
    try:
        reg = Regime(regime.upper())
    except ValueError as exc:
        raise InvalidInput(
            f"Regime tributário desconhecido: {regime!r}.", code="regime_desconhecido"
        ) from exc
    return {o.id for o in obligations if any(r.matches(reg, traits) for r in o.rule.applies_to)}


def _traits_of(e: Empresa) -> frozenset[str]:
    return empresa_traits(
        has_employees=e.has_employees,
        has_withholdings=e.has_withholdings,
        is_service_provider=e.is_service_provider,
        characteristics=e.characteristics,
    )


@dataclass(frozen=True, slots=True)
class Assignment:
    """What an assignment changed, by obligation code."""

    opened: tuple[str, ...]
    closed: tuple[str, ...]


def assign_empresa(
    session: Session, *, empresa_id: int, effective: Competencia, actor: str = "sistema"
) -> Assignment:
    """Re-derive one empresa's automatic obligations from competência ``effective`` on."""
    emp = session.get(Empresa, empresa_id)
    if emp is None:
        raise MISSING_EMPRESA.error()
    obligations = active_obligations(session)
    desired = _desired(emp.regime, _traits_of(emp), obligations.values()) if emp.active else set()
    eff, before = str(effective), str(effective.prev())
    rows = {
        r.obligation_id: r
        for r in session.scalars(
            select(CompanyObligation).where(CompanyObligation.empresa_id == empresa_id)
        )
    }
    opened: list[str] = []
    closed: list[str] = []
    for oid, row in rows.items():
        if row.source != "auto" or not row.active:
            continue
        code = obligations[oid].code if oid in obligations else str(oid)
        if oid in desired:
            if row.valid_until is not None:
                if row.valid_until < before:  # returns after a gap: restart here
                    row.valid_from = eff
                row.valid_until = None
                opened.append(code)
        elif row.valid_until is None or row.valid_until >= eff:
            row.valid_until = before
            closed.append(code)
    for oid in sorted(desired - set(rows)):
        session.add(
            CompanyObligation(
                empresa_id=empresa_id,
                obligation_id=oid,
                source="auto",
                overrides={},
                valid_from=eff,
                active=True,
            )
        )
        opened.append(obligations[oid].code)
    session.flush()
    if opened or closed:
        audit.record(
            session,
            actor=actor,
            action="empresa.obrigacoes_atribuidas",
            entity="empresa",
            entity_id=empresa_id,
            empresa_id=empresa_id,
            details={"vigencia": eff, "abertas": sorted(opened), "encerradas": sorted(closed)},
        )
    return Assignment(tuple(sorted(opened)), tuple(sorted(closed)))


def reconcile_assignments(
    session: Session, *, empresa_ids: Sequence[int], effective: Competencia
) -> int:
    """Attach missing automatic obligations (new empresas, new catalogue entries) in bulk."""
    obligations = active_obligations(session)
    cache: dict[tuple[str, frozenset[str]], set[int]] = {}
    emp_col: list[int] = []
    ob_col: list[int] = []
    for eid, regime, traits in active_empresa_traits(session, empresa_ids):
        key = (regime, traits)
        if key not in cache:
            cache[key] = _desired(regime, traits, obligations.values())
        for oid in cache[key]:
            emp_col.append(eid)
            ob_col.append(oid)
    if not emp_col:
        return 0
    if is_mysql(session):
        return _reconcile_mysql(session, emp_col, ob_col, effective)
    inserted = session.execute(
        text(
            "WITH ins AS (INSERT INTO company_obligations "
            "(empresa_id, obligation_id, source, overrides, valid_from, active) "
            "SELECT e, o, 'auto', '{}'::jsonb, :vf, true "
            "FROM unnest(CAST(:e AS bigint[]), CAST(:o AS bigint[])) AS u(e, o) "
            "ON CONFLICT (empresa_id, obligation_id) DO NOTHING RETURNING 1) "
            "SELECT count(*) FROM ins"
        ),
        {"e": emp_col, "o": ob_col, "vf": str(effective)},
    ).scalar_one()
    return int(inserted)


def _reconcile_mysql(
    session: Session, emp_col: list[int], ob_col: list[int], effective: Competencia
) -> int:
    """:func:`reconcile_assignments`' insert on MySQL/MariaDB (no RETURNING): the pairs already
    attached are read first, the others inserted (a pair attached concurrently is skipped)."""
    present = set(
        session.execute(
            select(CompanyObligation.empresa_id, CompanyObligation.obligation_id).where(
                CompanyObligation.empresa_id.in_(set(emp_col))
            )
        ).tuples()
    )
    rows = [
        {"empresa_id": e, "obligation_id": o, "source": "auto", "overrides": {},
         "valid_from": str(effective), "active": True}
        for e, o in dict.fromkeys(zip(emp_col, ob_col, strict=True))
        if (e, o) not in present
    ]  # fmt: skip
    insert_many_ignore(
        session, CompanyObligation, rows, index_elements=["empresa_id", "obligation_id"]
    )
    return len(rows)
