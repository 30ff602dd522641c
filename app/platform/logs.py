"""Log cleanup (guide §7.6 "Limpeza de logs antigos").

Deletes operational log lines and notification delivery attempts older than the configured age.
Never deletes anything under the 7-year retention (documents, guides and their protocol, audit
log, stored files): those tables are simply not touched here. Attempts of notifications that are
still in flight are kept, so an operator can always see why a message is pending.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, and_, delete, select
from sqlalchemy.orm import Session

from app.sqlcompat import is_mysql
from models import DeliveryAttempt, Notification, OperationalLog

__all__ = ["cleanup_logs", "IN_FLIGHT_STATUSES"]

IN_FLIGHT_STATUSES = ("pendente", "enviando")


def cleanup_logs(
    session: Session, *, older_than_days: int, now: datetime, batch: int = 5000
) -> dict[str, int]:
    """Delete old operational logs and settled delivery attempts; return counts per table."""
    if older_than_days < 1:
        raise ValueError("older_than_days must be >= 1")
    cutoff = now - timedelta(days=older_than_days)
    removed = {"operational_logs": 0, "delivery_attempts": 0}
    while True:  # bounded batches keep locks short on big tables
        n = _delete_batch(session, OperationalLog, OperationalLog.at < cutoff, batch)
        removed["operational_logs"] += n or 0
        if not n or n < batch:
            break
    in_flight = select(Notification.id).where(Notification.status.in_(IN_FLIGHT_STATUSES))
    while True:
        settled = and_(
            DeliveryAttempt.at < cutoff, DeliveryAttempt.notification_id.not_in(in_flight)
        )
        n = _delete_batch(session, DeliveryAttempt, settled, batch)
        removed["delivery_attempts"] += n or 0
        if not n or n < batch:
            break
    return removed


def _delete_batch(session: Session, model: Any, cond: Any, batch: int) -> int:
    """Delete up to ``batch`` rows matching ``cond``; returns how many."""
    if is_mysql(session):  # DELETE … LIMIT (MariaDB has no LIMIT in an IN subquery)
        stmt = delete(model).where(cond).with_dialect_options(mysql_limit=batch)
    else:
        stmt = delete(model).where(model.id.in_(select(model.id).where(cond).limit(batch)))
    res: CursorResult[Any] = session.execute(stmt)  # type: ignore[assignment]
    return int(res.rowcount or 0)
