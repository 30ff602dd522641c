"""What staff do with one tarefa: list the board, read one, complete it, dispense it.

Completion records who and when, the protocol file, and the business days late (counted on the
obligation's calendar: ``app.obligations.calendar``); dispensing requires a reason and cancels the
tarefa's guide. Both are audited.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, literal, select
from sqlalchemy.orm import Session

from app.errors import MISSING_TAREFA, Conflict, InvalidInput
from app.fiscal.competencia import Competencia
from app.guides.lifecycle import cancel_guides
from app.obligations.calendar import calendar_for
from app.obligations.catalogue import effective_rule
from app.platform import audit
from app.platform.office_settings import office_today
from models import CompanyObligation, Empresa, Obligation, Tarefa

__all__ = ["TarefaView", "complete_tarefa", "dispense_tarefa", "get_tarefa", "list_tarefas"]


@dataclass(frozen=True, slots=True)
class TarefaView:
    """A tarefa with its obligation and empresa names (what lists show)."""

    tarefa: Tarefa
    obligation_code: str
    obligation_name: str
    razao_social: str


def _view_query() -> Any:
    # A client order's tarefa has no obligation: code "pedido", named by its title.
    return (
        select(
            Tarefa,
            func.coalesce(Obligation.code, literal("pedido")),
            func.coalesce(Obligation.name, Tarefa.title, literal("Pedido")),
            Empresa.razao_social,
        )
        .outerjoin(Obligation, Obligation.id == Tarefa.obligation_id)
        .join(Empresa, Empresa.id == Tarefa.empresa_id)
    )


def list_tarefas(
    session: Session,
    *,
    empresa_id: int | None = None,
    status: Sequence[str] = (),
    due_from: date | None = None,
    due_until: date | None = None,
    department: str | None = None,
    responsible_staff_id: int | None = None,
    competencia: Competencia | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[int, list[TarefaView]]:
    """Tarefas filtered like the office's task board, by due date; with the total count."""
    q = _view_query()
    conds = []
    if empresa_id is not None:
        conds.append(Tarefa.empresa_id == empresa_id)
    if status:
        conds.append(Tarefa.status.in_(list(status)))
    if due_from is not None:
        conds.append(Tarefa.due_date >= due_from)
    if due_until is not None:
        conds.append(Tarefa.due_date <= due_until)
    if department is not None:
        conds.append(Tarefa.department == department)
    if responsible_staff_id is not None:
        conds.append(Tarefa.responsible_staff_id == responsible_staff_id)
    if competencia is not None:
        conds.append(Tarefa.competencia == str(competencia))
    q = q.where(*conds)
    total = session.scalar(select(func.count()).select_from(Tarefa).where(*conds)) or 0
    rows = session.execute(q.order_by(Tarefa.due_date, Tarefa.id).limit(limit).offset(offset))
    return int(total), [TarefaView(*r) for r in rows]


def get_tarefa(session: Session, *, tarefa_id: int) -> TarefaView:
    """One tarefa with names, or NotFound."""
    row = session.execute(_view_query().where(Tarefa.id == tarefa_id)).first()
    if row is None:
        raise MISSING_TAREFA.error()
    return TarefaView(*row)


def _lock(session: Session, tarefa_id: int) -> Tarefa:
    row = session.get(Tarefa, tarefa_id, with_for_update=True)
    if row is None:
        raise MISSING_TAREFA.error()
    if row.status == "concluida":
        raise Conflict("A tarefa já foi concluída.", code="tarefa_ja_concluida")
    if row.status == "dispensada":
        raise Conflict("A tarefa foi dispensada.", code="tarefa_dispensada")
    if row.order_id is not None:  # it follows its order (app.orders.tarefa)
        raise Conflict(
            f"Esta tarefa segue o pedido nº {row.order_id}: mude a situação do pedido.",
            code="transicao_invalida",
            pedido_id=row.order_id,
        )
    return row


def complete_tarefa(
    session: Session,
    *,
    tarefa_id: int,
    actor: str,
    now: datetime | None = None,
    protocol_file_id: int | None = None,
) -> Tarefa:
    """Mark a tarefa done (who/when, optional protocol file); lateness is recorded."""
    row = _lock(session, tarefa_id)
    moment = now or datetime.now(UTC)
    done = office_today(moment)
    late = 0
    if done > row.due_date:
        emp = session.get(Empresa, row.empresa_id)
        ob = session.get(Obligation, row.obligation_id)
        co = session.scalar(
            select(CompanyObligation.overrides).where(
                CompanyObligation.empresa_id == row.empresa_id,
                CompanyObligation.obligation_id == row.obligation_id,
            )
        )
        assert emp is not None and ob is not None
        rule = effective_rule(ob.rule, co or {})
        cal = calendar_for(session, scope=rule.calendar_scope, uf=emp.uf, ibge=emp.ibge_code)
        late = cal.business_days_between(row.due_date, done)
    row.status = "concluida"
    row.completed_at = moment
    row.completed_by = actor
    row.late_business_days = late
    row.fine_risk = late > 0
    if protocol_file_id is not None:
        row.protocol_file_id = protocol_file_id
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="tarefa.concluida",
        entity="tarefa",
        entity_id=row.id,
        empresa_id=row.empresa_id,
        details={"dias_uteis_de_atraso": late, "protocolo": protocol_file_id},
    )
    return row


def dispense_tarefa(session: Session, *, tarefa_id: int, actor: str, reason: str) -> Tarefa:
    """Dispense a tarefa that does not apply this time; the reason is required and audited."""
    clean = (reason or "").strip()
    if len(clean) < 3:
        raise InvalidInput("Informe o motivo da dispensa.", code="motivo_obrigatorio")
    row = _lock(session, tarefa_id)
    row.status = "dispensada"
    row.dispensed_reason = clean
    row.completed_by = actor
    row.completed_at = datetime.now(UTC)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="tarefa.dispensada",
        entity="tarefa",
        entity_id=row.id,
        empresa_id=row.empresa_id,
        reason=clean,
    )
    # Its guide (if generated) must not reach the client any more.
    cancel_guides(
        session,
        keys=[(row.empresa_id, int(row.obligation_id or 0), str(row.competencia))],
        actor=actor,
        reason=f"tarefa dispensada: {clean}",
    )
    return row
