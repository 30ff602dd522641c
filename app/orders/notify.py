"""Messages about orders, queued in the outbox (idempotency keys make every call repeatable).

- ``pedido_recebido`` to the client and ``pedido_novo`` to the responsible staff (or the
  office admins when nobody is responsible) once per order (``pedido:{id}:recebido``, …);
- ``pedido_situacao`` to the client on every status change (``pedido:{id}:situacao:{n}``).

Channels (:func:`client_recipients`): a contact who chose channels for orders (preference key
``pedido``) gets exactly those; otherwise its general choice (``*``, default e-mail) and, when
WhatsApp is configured (``WHATSAPP_API_KEY`` and ``WHATSAPP_PHONE_NUMBER_ID``) and the contact
has a number, WhatsApp too. Opt-outs always win; without WhatsApp configured nothing is queued
on it. The WhatsApp templates (Meta-approved names and body parameters) are registered in
:mod:`app.notify.whatsapp`; a status change with result files goes on WhatsApp as
``pedido_situacao_documento`` (the same body with a document header: the first file as a
signed link), because an approved template's header is fixed. Staff get e-mail only.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.notifications import outbox
from app.orders.types import order_type
from app.settings import get_settings
from models import Empresa, Staff
from models.orders import Order

__all__ = [
    "STATUS_NAMES",
    "client_recipients",
    "queue_received",
    "queue_status_change",
    "whatsapp_configured",
]

STATUS_NAMES = {
    "recebido": "Recebido",
    "em_andamento": "Em andamento",
    "aguardando_cliente": "Aguardando o cliente",
    "concluido": "Concluído",
    "cancelado": "Cancelado",
}
KIND = "pedido"  # contact preference key


def whatsapp_configured() -> bool:
    """Whether the WhatsApp Cloud API is configured (token and sending number)."""
    s = get_settings()
    return bool(s.WHATSAPP_API_KEY.get_secret_value() and s.WHATSAPP_PHONE_NUMBER_ID)


def client_recipients(
    session: Session, *, empresa_id: int, whatsapp: bool | None = None
) -> list[outbox.Recipient]:
    """The empresa's active contacts on the channels order messages go by (module docstring)."""
    whatsapp = whatsapp_configured() if whatsapp is None else whatsapp
    also = ("whatsapp",) if whatsapp else ()
    recipients = outbox.empresa_recipients(session, empresa_id, KIND, also=also)
    return [r for r in recipients if whatsapp or r.channel != "whatsapp"]


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
    client = client_recipients(session, empresa_id=order.empresa_id)
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
    client = client_recipients(session, empresa_id=order.empresa_id)
    key, ctx = f"pedido:{order.id}:situacao:{order.status_changes}", _context(session, order)
    email = [r for r in client if r.channel == "email"]
    whatsapp = [r for r in client if r.channel == "whatsapp"]
    n = outbox.enqueue(
        session, key=key, recipients=email, template="pedido_situacao", context=ctx,
        empresa_id=order.empresa_id, attachments=results,
    )  # fmt: skip
    if results:  # the approved template with a document header
        return n + outbox.enqueue(
            session, key=key, recipients=whatsapp, template="pedido_situacao_documento",
            context=ctx, empresa_id=order.empresa_id, attachments=results[:1],
        )  # fmt: skip
    return n + outbox.enqueue(
        session, key=key, recipients=whatsapp, template="pedido_situacao", context=ctx,
        empresa_id=order.empresa_id,
    )  # fmt: skip
