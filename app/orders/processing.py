"""The work of ``processar-pedidos`` on one order: every step is idempotent.

1. each client attachment still ``pendente`` is judged by its content (:mod:`app.orders.sniff`)
   → ``aceito`` (kind, flags such as ``pdf_criptografado``) or ``quarentena`` (its code); the
   bytes stay stored either way, so nothing is lost;
2. accepted XMLs go to document intake: one upload of the empresa per batch, whose files point
   at the stored attachments (indexed by ``processar-upload-xml`` like any upload);
3. the order gets its type's department and its SLA due date: ``sla_business_days`` business
   days after the day it was opened, on the office calendar (federal bank calendar plus the
   registered national closures), and its SLA alert threshold;
4. a responsible is chosen when none is: the active staff member of that department with the
   fewest open orders (none: the order stays unassigned and the admins are told); the order's
   tarefa is created with that due date and responsible (:mod:`app.orders.tarefa`, once);
5. a type with required attachments and no accepted file goes to ``aguardando_cliente``;
6. the client's acknowledgement and the staff alert are queued;
7. ``processed_at`` is set: a re-run finds nothing to do.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.fiscal.calendar import BusinessCalendar
from app.orders.notify import queue_received
from app.orders.office import change_status
from app.orders.service import FINAL_STATUSES, now
from app.orders.sniff import sniff
from app.orders.tarefa import ensure_tarefa
from app.orders.types import order_type
from app.platform import audit
from app.platform.office_settings import office_today
from app.storage.base import Storage
from models import Staff, StoredFile, Upload, UploadFile
from models.orders import Order, OrderAttachment

__all__ = ["ACTOR", "pending_orders", "process_order"]

ACTOR = "sistema:processar-pedidos"


def pending_orders(session: Session, *, limit: int = 500) -> list[int]:
    """Ids of orders with work left (oldest first)."""
    q = select(Order.id).where(Order.processed_at.is_(None)).order_by(Order.id).limit(limit)
    return list(session.scalars(q))


def _check(
    session: Session, storage: Storage, atts: Sequence[OrderAttachment], max_bytes: int
) -> dict[str, int]:
    counts: dict[str, int] = {}
    stored = {
        s.id: s
        for s in session.scalars(
            select(StoredFile).where(StoredFile.id.in_([a.stored_file_id for a in atts]))
        )
    }
    for att in atts:
        verdict = sniff(storage.get(stored[att.stored_file_id].storage_key), max_bytes=max_bytes)
        att.kind, att.flags = verdict.kind, list(verdict.flags)
        att.status = "aceito" if verdict.accepted else "quarentena"
        att.error_code, att.error_message = verdict.code, verdict.message
        key = att.error_code or att.kind or "?"
        counts[key] = counts.get(key, 0) + 1
    return counts


def _to_intake(session: Session, order: Order, atts: Sequence[OrderAttachment]) -> int | None:
    xmls = [a for a in atts if a.status == "aceito" and a.kind == "xml" and a.upload_id is None]
    if not xmls:
        return None
    upload = Upload(
        empresa_id=order.empresa_id, uploaded_by=f"pedido:{order.id}", status="recebido",
        file_count=len(xmls), summary={"pedido_id": order.id},
    )  # fmt: skip
    session.add(upload)
    session.flush()
    for pos, att in enumerate(xmls):
        session.add(
            UploadFile(
                upload_id=upload.id,
                position=pos,
                original_name=att.original_name,
                stored_file_id=att.stored_file_id,
                status="pendente",
                warnings=[],
            )  # fmt: skip
        )
        att.upload_id = upload.id
    session.flush()
    return upload.id


def _responsible(session: Session, department: str) -> int | None:
    open_orders = (
        select(func.count())
        .select_from(Order)
        .where(Order.assigned_staff_id == Staff.id, Order.status.not_in(FINAL_STATUSES))
        .scalar_subquery()
    )
    q = (
        select(Staff.id)
        .where(Staff.department == department, Staff.active.is_(True))
        .order_by(open_orders, Staff.id)
        .limit(1)
    )
    return session.scalar(q)


def process_order(
    session: Session,
    *,
    order_id: int,
    storage: Storage,
    calendar: BusinessCalendar,
    max_bytes: int,
    when: datetime | None = None,
) -> dict[str, Any]:
    """Do what is left for one order; returns what was done (empty when nothing was)."""
    order = session.scalar(
        select(Order).where(Order.id == order_id).with_for_update(skip_locked=True)
    )
    if order is None or order.processed_at is not None:
        return {}
    atts = session.scalars(
        select(OrderAttachment)
        .where(OrderAttachment.order_id == order.id)
        .order_by(OrderAttachment.id)
    ).all()
    pending = [a for a in atts if a.status == "pendente" and a.role == "cliente"]
    done: dict[str, Any] = {
        "pedido": order.id,
        "anexos": _check(session, storage, pending, max_bytes),
    }
    if order.status in FINAL_STATUSES:  # cancelled before processing: files checked only
        order.processed_at = when or now()
        session.flush()
        return done
    if (upload_id := _to_intake(session, order, atts)) is not None:
        done["upload_id"] = upload_id
    otype = order_type(order.kind)
    if order.due_date is None:
        opened = office_today(order.created_at)
        order.department = otype.department
        order.due_date = calendar.add_business_days(opened, otype.sla_business_days)
        done["prazo"] = order.due_date.isoformat()
    order.alert_business_days = otype.alert_business_days
    if order.assigned_staff_id is None and order.department:
        order.assigned_staff_id = _responsible(session, order.department)
    session.flush()
    if (tarefa_id := ensure_tarefa(session, order=order)) is not None:
        done["tarefa_id"] = tarefa_id
    accepted = [a for a in atts if a.role == "cliente" and a.status == "aceito"]
    if order.status == "recebido" and otype.required_attachments and not accepted:
        change_status(
            session, order_id=order.id, status="aguardando_cliente", actor=ACTOR, results=(),
            reply="Faltam anexos: " + "; ".join(otype.required_attachments) + ".",
        )  # fmt: skip
        done["situacao"] = "aguardando_cliente"
    done["notificacoes"] = queue_received(session, order=order)
    order.processed_at = when or now()
    order.summary = {
        "quarentena": sum(1 for a in atts if a.status == "quarentena"),
        "aceitos": sum(1 for a in atts if a.status == "aceito"),
        "upload_id": upload_id if upload_id is not None else order.summary.get("upload_id"),
    }
    audit.record(
        session, actor=ACTOR, action="pedido_processado", entity="pedido", entity_id=order.id,
        empresa_id=order.empresa_id, details=done,
    )  # fmt: skip
    session.flush()
    return done
