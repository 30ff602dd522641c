"""Messages about orders, queued in the outbox (idempotency keys make every call repeatable).

- ``pedido_recebido`` to the client and ``pedido_novo`` to the responsible staff (or the
  office admins when nobody is responsible) once per order (``pedido:{id}:recebido``, …);
- ``pedido_situacao`` to the client on every status change (``pedido:{id}:situacao:{n}``).

E-mail only for now: a WhatsApp message needs a template approved by Meta with its body
parameters registered in :mod:`app.notify.whatsapp`, which these templates do not have yet.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.notifications import outbox
from app.orders.types import order_type
from models import Empresa, Staff
from models.orders import Order

__all__ = ["STATUS_NAMES", "queue_received", "queue_status_change"]

STATUS_NAMES = {
    "recebido": "Recebido",
    "em_andamento": "Em andamento",
    "aguardando_cliente": "Aguardando o cliente",
    "concluido": "Concluído",
    "cancelado": "Cancelado",
}
KIND = "pedido"  # contact preference key


def _email(recipients: list[outbox.Recipient]) -> list[outbox.Recipient]:
    return [r for r in recipients if r.channel == "email"]


def _context(session: Session, order: Order) -> dict[str, object]:
    emp = session.get(Empresa, order.empresa_id)
    return {
        "pedido": order.id,
        "tipo": order_type(order.kind).name,
        "empresa": emp.razao_social if emp is not None else "",
        "situacao": STATUS_NAMES.get(order.status, order.status),
        "prazo": order.due_date,
        "resposta": order.reply or "",
        "descricao": order.description[:500],
    }


def staff_for(session: Session, *, order: Order) -> list[outbox.Recipient]:
    """The responsible's e-mail, else the active admins'."""
    if order.assigned_staff_id is not None:
        found = outbox.staff_recipients(session, [order.assigned_staff_id])
        if found:
            return found
    admins = session.scalars(select(Staff.id).where(Staff.is_admin.is_(True), Staff.active))
    return outbox.staff_recipients(session, list(admins))


def queue_received(session: Session, *, order: Order) -> int:
    """The acknowledgement to the client and the alert to staff (once per order)."""
    ctx = _context(session, order)
    client = _email(outbox.empresa_recipients(session, order.empresa_id, KIND))
    n = outbox.enqueue(
        session, key=f"pedido:{order.id}:recebido", recipients=client,
        template="pedido_recebido", context=ctx, empresa_id=order.empresa_id,
    )  # fmt: skip
    n += outbox.enqueue(
        session, key=f"pedido:{order.id}:novo", recipients=staff_for(session, order=order),
        template="pedido_novo", context=ctx, empresa_id=order.empresa_id,
    )  # fmt: skip
    return n


def queue_status_change(session: Session, *, order: Order, results: list[int]) -> int:
    """Tell the client the order's new status (and the office's reply, result files attached)."""
    client = _email(outbox.empresa_recipients(session, order.empresa_id, KIND))
    return outbox.enqueue(
        session, key=f"pedido:{order.id}:situacao:{order.status_changes}", recipients=client,
        template="pedido_situacao", context=_context(session, order),
        empresa_id=order.empresa_id, attachments=results,
    )  # fmt: skip
