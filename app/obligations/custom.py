"""What operators define by hand: custom obligations and per-empresa obligation adjustments.

- A custom obligation (``custom = true``) is validated like a catalogue entry and never touched
  by the catalogue sync; switching it off keeps its tarefas (they reference it).
- ``set_company_obligation`` attaches an obligation by hand (``source = manual``), overrides its
  rule for one empresa (``due_day``, ``lead_time_business_days``, ``alert_business_days``,
  ``calendar_scope`` …, plus ``responsible_staff_id``) or switches it off. Automatic assignment
  leaves manual and switched-off rows alone.
Every change is audited.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import MISSING_EMPRESA, Conflict, InvalidInput, NotFound
from app.fiscal.competencia import Competencia
from app.fiscal.obligations import Obligation as Rule
from app.fiscal.obligations import load_catalogue
from app.obligations.catalogue import effective_rule
from app.platform import audit
from app.platform.office_settings import current_competencia
from models import CompanyObligation, Empresa, Obligation

__all__ = [
    "CompanyObligationView",
    "ObligationView",
    "create_custom_obligation",
    "list_company_obligations",
    "list_obligations",
    "set_company_obligation",
    "set_custom_obligation_active",
]


@dataclass(frozen=True, slots=True)
class ObligationView:
    """An obligation as listings show it."""

    id: int
    code: str
    name: str
    department: str
    custom: bool
    active: bool


@dataclass(frozen=True, slots=True)
class CompanyObligationView:
    """One obligation of an empresa: where it came from, its validity and overrides."""

    id: int
    code: str
    source: str
    active: bool
    valid_from: str
    valid_until: str | None
    overrides: dict[str, Any]


def _unknown_obligation(code: str) -> NotFound:
    return NotFound(f"Obrigação desconhecida: {code}.", code="obrigacao_desconhecida")


def create_custom_obligation(session: Session, *, rule: Mapping[str, Any], actor: str) -> int:
    """Add an operator-defined obligation (validated like the catalogue); returns its id."""
    try:
        parsed = Rule.model_validate(dict(rule))
    except ValidationError as exc:
        raise InvalidInput(
            f"Obrigação inválida: {exc.errors()[0]['msg']}.", code="obrigacao_invalida"
        ) from exc
    known = set(load_catalogue().characteristics)
    for r in parsed.applies_to:
        unknown = r.conditions() - known
        if unknown:
            raise InvalidInput(
                f"Características desconhecidas: {', '.join(sorted(unknown))}.",
                code="caracteristica_desconhecida",
            )
    if session.scalar(select(Obligation.id).where(Obligation.code == parsed.code)) is not None:
        raise Conflict(f"Já existe a obrigação {parsed.code}.", code="obrigacao_duplicada")
    row = Obligation(
        code=parsed.code,
        name=parsed.name,
        rule=parsed.model_dump(mode="json"),
        department=parsed.department,
        generates_guide=parsed.generates_guide,
        custom=True,
        catalogue_version=None,
        active=True,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="obrigacao.personalizada_criada",
        entity="obligation",
        entity_id=row.id,
        details={"codigo": parsed.code},
    )
    return row.id


def set_custom_obligation_active(
    session: Session, *, code: str, active: bool, actor: str, reason: str | None = None
) -> ObligationView:
    """Switch a custom obligation off (no new tarefas; existing ones stay) or back on."""
    row = session.scalar(select(Obligation).where(Obligation.code == code))
    if row is None:
        raise _unknown_obligation(code)
    if not row.custom:
        raise Conflict(
            f"{code} é do catálogo oficial; ajuste-a por empresa.", code="obrigacao_do_catalogo"
        )
    if row.active != active:
        row.active = active
        session.flush()
        audit.record(
            session,
            actor=actor,
            action="obrigacao.personalizada_ativada"
            if active
            else "obrigacao.personalizada_desativada",
            entity="obligation",
            entity_id=row.id,
            reason=reason,
            details={"codigo": code},
        )
    return _obligation_view(row)


def _obligation_view(row: Obligation) -> ObligationView:
    return ObligationView(row.id, row.code, row.name, row.department, row.custom, row.active)


def list_obligations(session: Session, *, custom_only: bool = False) -> list[ObligationView]:
    """Every obligation (catalogue and custom) by code; ``custom_only`` keeps the custom ones."""
    q = select(Obligation).order_by(Obligation.code)
    if custom_only:
        q = q.where(Obligation.custom.is_(True))
    return [_obligation_view(r) for r in session.scalars(q)]


def set_company_obligation(
    session: Session,
    *,
    empresa_id: int,
    code: str,
    actor: str,
    overrides: Mapping[str, Any] | None = None,
    active: bool | None = None,
    valid_from: Competencia | None = None,
) -> CompanyObligation:
    """Attach by hand, override, or switch off one obligation of an empresa (audited)."""
    ob = session.scalar(select(Obligation).where(Obligation.code == code))
    if ob is None:
        raise _unknown_obligation(code)
    if session.get(Empresa, empresa_id) is None:
        raise MISSING_EMPRESA.error()
    if overrides is not None:
        staff = overrides.get("responsible_staff_id")
        if staff is not None and not isinstance(staff, int):
            raise InvalidInput(
                "responsible_staff_id deve ser um número.", code="sobrescrita_invalida"
            )
        effective_rule(ob.rule, overrides)  # validates (raises sobrescrita_invalida)
    row = session.scalar(
        select(CompanyObligation).where(
            CompanyObligation.empresa_id == empresa_id, CompanyObligation.obligation_id == ob.id
        )
    )
    if row is None:
        row = CompanyObligation(
            empresa_id=empresa_id,
            obligation_id=ob.id,
            source="manual",
            overrides={},
            valid_from=str(valid_from or current_competencia()),
            active=True,
        )
        session.add(row)
    if overrides is not None:
        row.overrides = dict(overrides)
    if active is not None:
        row.active = active
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="empresa.obrigacao_ajustada",
        entity="company_obligation",
        entity_id=row.id,
        empresa_id=empresa_id,
        details={"codigo": code, "sobrescritas": row.overrides, "ativa": row.active},
    )
    return row


def list_company_obligations(session: Session, *, empresa_id: int) -> list[CompanyObligationView]:
    """An empresa's obligations (automatic and manual, on and off) by code."""
    if session.get(Empresa, empresa_id) is None:
        raise MISSING_EMPRESA.error()
    rows = session.execute(
        select(CompanyObligation, Obligation.code)
        .join(Obligation, Obligation.id == CompanyObligation.obligation_id)
        .where(CompanyObligation.empresa_id == empresa_id)
        .order_by(Obligation.code)
    )
    return [
        CompanyObligationView(
            co.id,
            code,
            co.source,
            co.active,
            co.valid_from,
            co.valid_until,
            dict(co.overrides or {}),
        )
        for co, code in rows
    ]
