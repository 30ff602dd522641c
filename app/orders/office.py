"""Orders as the office works them: list with filters, assign, change status with a reply
and result files. Every change is audited; the client hears of every status change; the
order's tarefa follows (responsible, completed or dispensed: :mod:`app.orders.tarefa`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from app.errors import Conflict, InvalidInput
from app.orders.notify import queue_status_change
from app.orders.service import (
    FINAL_STATUSES,
    STATUSES,
    Attachment,
    ensure_open,
    get_order,
    now,
    store_attachments,
)
from app.orders.tarefa import close_tarefa, follow_responsible
from app.platform import audit
from models import Staff
from models.orders import Order

__all__ = ["OrderFilter", "assign_order", "change_status", "orders_page"]

# From → the statuses it may move to (final statuses move nowhere).
TRANSITIONS: dict[str, frozenset[str]] = {
    "recebido": frozenset({"em_andamento", "aguardando_cliente", "concluido", "cancelado"}),
    "em_andamento": frozenset({"aguardando_cliente", "concluido", "cancelado"}),
    "aguardando_cliente": frozenset({"em_andamento", "concluido", "cancelado"}),
}


@dataclass(frozen=True, slots=True)
class OrderFilter:
    """The filters of a listing (None: any)."""

    empresa_id: int | None = None
    status: str | None = None
    kind: str | None = None
    department: str | None = None
    responsible_id: int | None = None
    due_from: date | None = None
    due_until: date | None = None


def _filtered(q: Select[Any], f: OrderFilter) -> Select[Any]:
    if f.empresa_id is not None:
        q = q.where(Order.empresa_id == f.empresa_id)
    if f.status:
        q = q.where(Order.status == f.status)
    if f.kind:
        q = q.where(Order.kind == f.kind)
    if f.department:
        q = q.where(Order.department == f.department)
    if f.responsible_id is not None:
        q = q.where(Order.assigned_staff_id == f.responsible_id)
    if f.due_from is not None:
        q = q.where(Order.due_date >= f.due_from)
    if f.due_until is not None:
        q = q.where(Order.due_date <= f.due_until)
    return q


def orders_page(
    session: Session, *, filters: OrderFilter, limit: int, offset: int
) -> tuple[int, Sequence[Order]]:
    """(total, one page) of orders, newest first."""
    total = session.scalar(_filtered(select(func.count()).select_from(Order), filters))
    rows = session.scalars(
        _filtered(select(Order), filters).order_by(Order.id.desc()).limit(limit).offset(offset)
    ).all()
    return int(total or 0), rows


def assign_order(session: Session, *, order_id: int, staff_id: int, actor: str) -> Order:
    """Make a staff member responsible for an open order."""
    order = get_order(session, order_id=order_id, for_update=True)
    ensure_open(order)
    staff = session.get(Staff, staff_id)
    if staff is None or not staff.active:
        raise InvalidInput("Responsável inexistente.", code="responsavel_desconhecido")
    before = order.assigned_staff_id
    order.assigned_staff_id = staff_id
    follow_responsible(session, order=order)
    audit.record(
        session, actor=actor, action="pedido_atribuido", entity="pedido", entity_id=order.id,
        empresa_id=order.empresa_id, details={"de": before, "para": staff_id},
    )  # fmt: skip
    return order


def change_status(
    session: Session,
    *,
    order_id: int,
    status: str,
    actor: str,
    reply: str | None,
    results: Sequence[Attachment],
) -> Order:
    """Move an order to ``status`` with an optional reply and result files; the client is told.

    422 ``situacao_invalida`` for an unknown status, 409 ``pedido_encerrado`` from a final one,
    409 ``transicao_invalida`` for a move the workflow does not allow (e.g. back to
    ``recebido``)."""
    if status not in STATUSES:
        raise InvalidInput("Situação inválida.", code="situacao_invalida", situacoes=list(STATUSES))
    order = get_order(session, order_id=order_id, for_update=True)
    ensure_open(order)
    if status not in TRANSITIONS[order.status]:
        raise Conflict(
            f"Um pedido {order.status} não passa a {status}.",
            code="transicao_invalida",
            de=order.status,
            para=status,
        )
    reply = (reply or "").replace("\x00", "").strip()[:5000] or None
    files = store_attachments(session, order=order, files=results, actor=actor, role="resultado")
    for f in files:  # the office's own files: nothing to quarantine
        f.status = "aceito"
    before = order.status
    order.status = status
    order.status_changes += 1
    if reply:
        order.reply = reply
    if status in FINAL_STATUSES:
        order.closed_at = now()
        close_tarefa(session, order=order, actor=actor, reason=reply)
    session.flush()
    audit.record(
        session, actor=actor, action="pedido_situacao", entity="pedido", entity_id=order.id,
        empresa_id=order.empresa_id, reason=reply,
        details={"de": before, "para": status, "resultados": [f.id for f in files]},
    )  # fmt: skip
    queue_status_change(session, order=order, results=[f.stored_file_id for f in files])
    return order
