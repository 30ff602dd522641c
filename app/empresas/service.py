"""Registering an empresa and changing its regime/characteristics (re-runs assignment).

A new empresa gets its obligations from ``inicio`` (default: the current competência, the one
``processar-tarefas-automaticas`` generates this month) and its tarefas from ``inicio`` up to the
current competência at once, so it does not wait for next month's run.

A change of regime or characteristics takes effect at competência ``vigencia`` (default: the
current one): obligations that stop applying are closed at ``vigencia - 1`` and their untouched
open tarefas from ``vigencia`` on are removed; new ones start at ``vigencia`` and their tarefas
are generated up to the latest competência already generated. Tarefas of earlier competências,
and any concluded or dispensed tarefa, are never touched.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.errors import MISSING_EMPRESA, Conflict, InvalidInput
from app.fiscal.cnpj import is_valid_cnpj, normalize_cnpj
from app.fiscal.competencia import Competencia
from app.fiscal.holidays_local import uf_for_ibge
from app.fiscal.obligations import Regime, load_catalogue
from app.obligations.catalogue import active_obligations, assign_empresa
from app.obligations.tarefas import drop_open_tarefas, generate_tarefas
from app.platform import audit
from app.platform.office_settings import current_competencia
from models import Empresa, Staff, Tarefa

__all__ = ["ASSIGNMENT_FIELDS", "EDITABLE_FIELDS", "create_empresa", "update_empresa"]

# Changing any of these re-derives the empresa's obligations.
ASSIGNMENT_FIELDS = frozenset(
    {
        "regime",
        "has_employees",
        "has_withholdings",
        "is_service_provider",
        "characteristics",
        "active",
    }
)
EDITABLE_FIELDS = ASSIGNMENT_FIELDS | {
    "razao_social",
    "nome_fantasia",
    "municipio",
    "responsible_staff_id",
    "responsibles",
    "anexos",
}


def _check(session: Session, fields: dict[str, Any]) -> None:
    columns = Empresa.__table__.c
    for name, value in fields.items():
        if value is None and name in columns and not columns[name].nullable:
            raise InvalidInput(f"O campo {name} não pode ser nulo.", code="campo_obrigatorio")
    staff_ids = {fields.get("responsible_staff_id"), *(fields.get("responsibles") or {}).values()}
    staff_ids.discard(None)
    if staff_ids:
        existing = set(session.scalars(select(Staff.id).where(Staff.id.in_(staff_ids))))
        if missing := sorted(staff_ids - existing):
            raise InvalidInput(
                f"Responsável não cadastrado na equipe: {', '.join(map(str, missing))}.",
                code="responsavel_desconhecido",
            )
    if "regime" in fields:
        try:
            fields["regime"] = Regime(str(fields["regime"]).upper()).value
        except ValueError as exc:
            raise InvalidInput(
                f"Regime tributário desconhecido: {fields['regime']!r}.",
                code="regime_desconhecido",
            ) from exc
    if "characteristics" in fields:
        known = set(load_catalogue().characteristics)
        unknown = set(fields["characteristics"] or {}) - known
        if unknown:
            raise InvalidInput(
                f"Características desconhecidas: {', '.join(sorted(unknown))}.",
                code="caracteristica_desconhecida",
            )


def create_empresa(
    session: Session,
    *,
    fields: dict[str, Any],
    actor: str,
    inicio: Competencia | None = None,
) -> Empresa:
    """Register an empresa (valid CNPJ, known regime, IBGE in its UF), assign and generate."""
    data = dict(fields)
    cnpj = normalize_cnpj(str(data.pop("cnpj", "")))
    if not is_valid_cnpj(cnpj):
        raise InvalidInput("CNPJ inválido.", code="cnpj_invalido")
    if session.scalar(select(Empresa.id).where(Empresa.cnpj == cnpj)) is not None:
        raise Conflict("Já existe empresa com este CNPJ.", code="empresa_ja_cadastrada")
    _check(session, data)
    uf = str(data.get("uf", "")).upper()
    if uf_for_ibge(str(data.get("ibge_code", ""))) != uf:
        raise InvalidInput("O código IBGE não pertence à UF informada.", code="uf_invalida")
    data["uf"] = uf
    emp = Empresa(cnpj=cnpj, **data)
    session.add(emp)
    session.flush()
    start = inicio or current_competencia()
    assignment = assign_empresa(session, empresa_id=emp.id, effective=start, actor=actor)
    now_comp = max(current_competencia(), start)
    created = generate_tarefas(
        session, empresa_ids=[emp.id], competencias=list(Competencia.range(start, now_comp))
    )
    audit.record(
        session,
        actor=actor,
        action="empresa.cadastrada",
        entity="empresa",
        entity_id=emp.id,
        empresa_id=emp.id,
        details={"cnpj": cnpj, "regime": emp.regime, "inicio": str(start), "tarefas": created,
                 "obrigacoes": list(assignment.opened)},
    )  # fmt: skip
    return emp


def update_empresa(
    session: Session,
    *,
    empresa_id: int,
    changes: dict[str, Any],
    actor: str,
    vigencia: Competencia | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    """Apply changes; a regime/characteristics change re-derives obligations from ``vigencia``."""
    emp = session.get(Empresa, empresa_id, with_for_update=True)
    if emp is None:
        raise MISSING_EMPRESA.error()
    unknown = set(changes) - EDITABLE_FIELDS
    if unknown:
        raise InvalidInput(
            f"Campos não editáveis: {', '.join(sorted(unknown))}.", code="campo_nao_editavel"
        )
    data = dict(changes)
    _check(session, data)
    before = {k: getattr(emp, k) for k in data}
    for k, v in data.items():
        setattr(emp, k, v)
    session.flush()
    changed = {k for k in data if before[k] != data[k]}
    result: dict[str, Any] = {"alterados": sorted(changed), "abertas": [], "encerradas": []}
    if changed & ASSIGNMENT_FIELDS:
        eff = vigencia or current_competencia()
        assignment = assign_empresa(session, empresa_id=emp.id, effective=eff, actor=actor)
        codes = {o.code: o.id for o in active_obligations(session).values()}
        closed_ids = [codes[c] for c in assignment.closed if c in codes]
        removed = drop_open_tarefas(
            session,
            empresa_id=emp.id,
            obligation_ids=closed_ids,
            from_competencia=eff,
            actor=actor,
        )
        latest = session.scalar(
            select(func.max(Tarefa.competencia)).where(Tarefa.empresa_id == emp.id)
        )
        last = max(Competencia.parse(latest), current_competencia()) if latest else eff
        generated = generate_tarefas(
            session, empresa_ids=[emp.id], competencias=list(Competencia.range(eff, last))
        )
        result.update(
            abertas=list(assignment.opened),
            encerradas=list(assignment.closed),
            tarefas_removidas=removed,
            tarefas_geradas=generated,
            vigencia=str(eff),
        )
    if changed:
        audit.record(
            session,
            actor=actor,
            action="empresa.alterada",
            entity="empresa",
            entity_id=emp.id,
            empresa_id=emp.id,
            reason=reason,
            details={
                "antes": {k: before[k] for k in changed},
                "depois": {k: data[k] for k in changed},
                **{k: v for k, v in result.items() if k != "alterados"},
            },
        )
    return result
