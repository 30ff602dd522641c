"""Prefect glue for ``processar-pedidos``: one transaction per order."""

from __future__ import annotations

from typing import Any

from prefect import task

from app.db import session_scope
from app.documents.dispatch import announce
from app.obligations.calendar import office_calendar
from app.orders.processing import pending_orders, process_order
from app.settings import get_settings
from app.storage import get_storage
from tasks.defaults import TASK_DEFAULTS


@task(name="listar-pedidos-pendentes", **TASK_DEFAULTS)
def pending_orders_task(limit: int) -> list[int]:
    """Ids of orders with work left, oldest first."""
    with session_scope() as session:
        return pending_orders(session, limit=limit)


@task(name="processar-pedido", **TASK_DEFAULTS)
def process_order_task(order_id: int) -> dict[str, Any]:
    """Check the order's attachments, hand its XMLs to intake, set its SLA and responsible,
    queue its messages (idempotent: a finished order is skipped). The upload of its XMLs is
    announced to the upload dispatcher after the commit, like any upload."""
    with session_scope() as session:
        done = process_order(
            session,
            order_id=order_id,
            storage=get_storage(),
            calendar=office_calendar(session),
            max_bytes=get_settings().UPLOAD_MAX_FILE_BYTES,
        )
    if done.get("upload_id"):
        announce(int(done["upload_id"]))
    return done
