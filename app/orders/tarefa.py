"""The tarefa of an order: the order on the office's task board (``tarefas.order_id``).

One tarefa per order (unique ``order_id``), created by ``processar-pedidos`` once the order has
its department and SLA due date: no obligation, the competência of the month the order was
opened, ``title`` "Pedido nº N — <tipo>", the order's responsible. The order is the source of
truth and the tarefa follows it: an assignment changes its responsible, ``concluido`` completes
it (business days late on the office calendar), ``cancelado`` dispenses it; ``enviar-alertas``
moves it to ``a_vencer`` / ``vencida`` with the SLA alerts. The tarefas API lists it like any
other and refuses to complete or dispense it directly (that is a status change of the order).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.fiscal.calendar import BusinessCalendar
from app.fiscal.competencia import Competencia
from app.obligations.calendar import office_calendar
from app.orders.types import order_type
from app.platform.office_settings import office_today
from app.sqlcompat import insert_ignore
from models import Tarefa
from models.orders import Order

__all__ = ["close_tarefa", "ensure_tarefa", "follow_responsible", "order_tarefa", "tarefa_title"]

OPEN = ("aberta", "a_vencer", "vencida")


def tarefa_title(order: Order) -> str:
    """What the task board shows for the order's tarefa."""
    return f"Pedido nº {order.id} — {order_type(order.kind).name}"[:200]


def order_tarefa(session: Session, *, order_id: int) -> Tarefa | None:
    """The order's tarefa, if it has one."""
    return session.scalar(select(Tarefa).where(Tarefa.order_id == order_id))


def ensure_tarefa(session: Session, *, order: Order) -> int | None:
    """Create the order's tarefa if missing (needs department and due date); returns the id of
    a tarefa created now, None when it already existed (or cannot exist yet)."""
    if order.due_date is None or order.department is None:
        return None
    opened = office_today(order.created_at)
    values = dict(
        empresa_id=order.empresa_id,
        obligation_id=None,
        order_id=order.id,
        title=tarefa_title(order),
        competencia=str(Competencia.of(opened)),
        due_date=order.due_date,
        target_date=order.due_date,
        status="aberta",
        department=order.department,
        responsible_staff_id=order.assigned_staff_id,
        late_business_days=0,
        fine_risk=False,
    )
    created = insert_ignore(session, Tarefa, [values], index_elements=["order_id"])
    return int(created[0][0]) if created else None


def follow_responsible(session: Session, *, order: Order) -> None:
    """The tarefa's responsible is the order's."""
    tarefa = order_tarefa(session, order_id=order.id)
    if tarefa is not None and tarefa.status in OPEN:
        tarefa.responsible_staff_id = order.assigned_staff_id


def close_tarefa(
    session: Session,
    *,
    order: Order,
    actor: str,
    reason: str | None = None,
    calendar: BusinessCalendar | None = None,
) -> None:
    """Complete (``concluido``) or dispense (``cancelado``) the order's open tarefa."""
    tarefa = order_tarefa(session, order_id=order.id)
    if tarefa is None or tarefa.status not in OPEN or order.closed_at is None:
        return
    tarefa.completed_at = order.closed_at
    tarefa.completed_by = actor[:200]
    if order.status == "cancelado":
        tarefa.status = "dispensada"
        tarefa.dispensed_reason = reason or "Pedido cancelado."
        return
    tarefa.status = "concluida"
    done = office_today(order.closed_at)
    late = 0
    if done > tarefa.due_date:
        cal = calendar if calendar is not None else office_calendar(session)
        late = cal.business_days_between(tarefa.due_date, done)
    tarefa.late_business_days = late
    tarefa.fine_risk = False  # an order carries no fine; lateness is recorded
