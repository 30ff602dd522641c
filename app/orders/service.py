"""Orders as the client sees them: open, follow, talk, attach, cancel.

Every function takes the caller's session, never commits, and audits what it changes
(:mod:`app.platform.audit`). Files are stored once per (empresa, sha256) as received
(:func:`app.files.store.store_file`) with status ``pendente``: ``processar-pedidos`` checks
their content (:mod:`app.orders.sniff`) and quarantines what must not be opened.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.errors import MISSING_EMPRESA, Conflict, InvalidInput, Missing
from app.files.store import store_file
from app.orders.types import order_type
from app.platform import audit
from models import Empresa
from models.orders import Order, OrderAttachment, OrderMessage

__all__ = [
    "FINAL_STATUSES",
    "MAX_ATTACHMENTS",
    "MISSING_PEDIDO",
    "STATUSES",
    "Attachment",
    "Order",
    "OrderDetail",
    "add_attachments",
    "add_message",
    "cancel_order",
    "get_order",
    "open_order",
    "order_detail",
]

MISSING_PEDIDO = Missing("Pedido não encontrado.", "pedido_nao_encontrado")
STATUSES = ("recebido", "em_andamento", "aguardando_cliente", "concluido", "cancelado")
FINAL_STATUSES = frozenset({"concluido", "cancelado"})
MAX_ATTACHMENTS = 20  # per order, client files and results together
DESCRIPTION_MAX = 5000


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file as received by the API (already read within the size limit)."""

    name: str
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class OrderDetail:
    """An order with its attachments and messages (oldest first)."""

    order: Order
    attachments: Sequence[OrderAttachment]
    messages: Sequence[OrderMessage]


def get_order(session: Session, *, order_id: int, for_update: bool = False) -> Order:
    """The order ``order_id``; 404 ``pedido_nao_encontrado``."""
    q = select(Order).where(Order.id == order_id)
    found = session.scalar(q.with_for_update() if for_update else q)
    if found is None:
        raise MISSING_PEDIDO.error()
    return found


def order_detail(session: Session, *, order_id: int) -> OrderDetail:
    """The order, its attachments and its messages."""
    order = get_order(session, order_id=order_id)
    atts = session.scalars(
        select(OrderAttachment)
        .where(OrderAttachment.order_id == order_id)
        .order_by(OrderAttachment.id)
    ).all()
    msgs = session.scalars(
        select(OrderMessage).where(OrderMessage.order_id == order_id).order_by(OrderMessage.id)
    ).all()
    return OrderDetail(order, atts, msgs)


def ensure_open(order: Order) -> None:
    """409 ``pedido_encerrado`` for a concluded or cancelled order."""
    if order.status in FINAL_STATUSES:
        raise Conflict("Pedido já encerrado.", code="pedido_encerrado", situacao=order.status)


def _text(value: str | None, *, what: str, required: bool) -> str | None:
    value = (value or "").replace("\x00", "").strip()
    if not value:
        if required:
            raise InvalidInput(f"Informe {what}.", code="campo_obrigatorio", campo=what)
        return None
    if len(value) > DESCRIPTION_MAX:
        raise InvalidInput(
            f"Texto longo demais (máximo {DESCRIPTION_MAX} caracteres).",
            code="entrada_invalida",
            campo=what,
        )
    return value


def store_attachments(
    session: Session,
    *,
    order: Order,
    files: Sequence[Attachment],
    actor: str,
    role: str = "cliente",
) -> list[OrderAttachment]:
    """Store ``files`` and attach them (status ``pendente``); the count limit is per order."""
    have = session.scalar(
        select(func.count())
        .select_from(OrderAttachment)
        .where(OrderAttachment.order_id == order.id)
    )
    if int(have or 0) + len(files) > MAX_ATTACHMENTS:
        raise InvalidInput(
            f"No máximo {MAX_ATTACHMENTS} anexos por pedido.",
            code="arquivos_demais",
            limite=MAX_ATTACHMENTS,
        )
    known = set(
        session.scalars(
            select(OrderAttachment.stored_file_id).where(OrderAttachment.order_id == order.id)
        )
    )
    out: list[OrderAttachment] = []
    for f in files:
        stored_id = store_file(
            session,
            empresa_id=order.empresa_id,
            data=f.data,
            filename=f.name,
            content_type=f.content_type,
            purpose="pedido",
            uploaded_by=actor,
        )
        if stored_id in known:  # the same bytes twice on one order: one attachment
            continue
        known.add(stored_id)
        name = (f.name or "arquivo").replace("\x00", "").rsplit("/", 1)[-1][:255] or "arquivo"
        att = OrderAttachment(
            order_id=order.id, stored_file_id=stored_id, original_name=name, role=role,
            status="pendente", flags=[],
        )  # fmt: skip
        session.add(att)
        out.append(att)
    session.flush()
    return out


def open_order(
    session: Session,
    *,
    empresa_id: int,
    kind: str,
    description: str,
    files: Sequence[Attachment],
    actor: str,
) -> Order:
    """Open an order of type ``kind`` for the empresa with its attachments (status ``recebido``).

    The type is checked first (422 ``tipo_de_pedido_desconhecido``), then the empresa (404)."""
    order_type(kind)
    text = _text(description, what="descricao", required=True)
    if session.get(Empresa, empresa_id) is None:
        raise MISSING_EMPRESA.error()
    order = Order(
        empresa_id=empresa_id, kind=kind, description=text, status="recebido",
        created_by=actor[:200], status_changes=0, summary={},
    )  # fmt: skip
    session.add(order)
    session.flush()
    atts = store_attachments(session, order=order, files=files, actor=actor)
    audit.record(
        session, actor=actor, action="pedido_aberto", entity="pedido", entity_id=order.id,
        empresa_id=empresa_id, details={"tipo": kind, "anexos": len(atts)},
    )  # fmt: skip
    return order


def add_message(
    session: Session, *, order_id: int, text: str, actor: str, from_office: bool
) -> OrderMessage:
    """Add a message to an open order."""
    order = get_order(session, order_id=order_id, for_update=True)
    ensure_open(order)
    body = _text(text, what="texto", required=True)
    msg = OrderMessage(order_id=order.id, author=actor[:200], from_office=from_office, text=body)
    session.add(msg)
    session.flush()
    audit.record(
        session, actor=actor, action="pedido_mensagem", entity="pedido", entity_id=order.id,
        empresa_id=order.empresa_id, details={"mensagem_id": msg.id},
    )  # fmt: skip
    return msg


def add_attachments(
    session: Session, *, order_id: int, files: Sequence[Attachment], actor: str
) -> list[OrderAttachment]:
    """Attach more files to an open order; the order goes back to ``processar-pedidos``."""
    if not files:
        raise InvalidInput("Nenhum arquivo enviado.", code="upload_vazio")
    order = get_order(session, order_id=order_id, for_update=True)
    ensure_open(order)
    atts = store_attachments(session, order=order, files=files, actor=actor)
    if atts:
        order.processed_at = None
    audit.record(
        session, actor=actor, action="pedido_anexos", entity="pedido", entity_id=order.id,
        empresa_id=order.empresa_id, details={"anexos": [a.id for a in atts]},
    )  # fmt: skip
    return atts


def cancel_order(session: Session, *, order_id: int, actor: str, reason: str | None) -> Order:
    """Cancel an open order (the client's own, or the office's decision)."""
    from app.orders.office import change_status  # the one place statuses change

    return change_status(
        session, order_id=order_id, status="cancelado", actor=actor, reply=reason, results=()
    )


def now() -> datetime:
    """The current time (UTC)."""
    return datetime.now(UTC)
