"""The outbox claim (``SELECT … FOR UPDATE SKIP LOCKED``) on PostgreSQL and on MySQL/MariaDB.

``SKIP LOCKED`` exists on both (MySQL 8, MariaDB 10.6); ``UPDATE … RETURNING`` only on PostgreSQL,
so MySQL locks the due rows, updates them and reads them back in the same transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models import Notification

__all__ = ["claim_mysql", "claim_pg"]


def _due(limit: int, now: datetime, *order: Any) -> Any:
    return (
        select(Notification.id)
        .where(Notification.status == "pendente", Notification.next_attempt_at <= now)
        .order_by(*order)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )


def claim_pg(
    session: Session, *, limit: int, now: datetime, values: dict[str, Any]
) -> list[Notification]:
    """PostgreSQL: one UPDATE of the due rows (a SKIP LOCKED CTE) RETURNING them."""
    due = _due(limit, now, Notification.id).cte("due")
    stmt = (
        update(Notification)
        .where(Notification.id == due.c.id)
        .values(**values)
        .returning(Notification)
        .execution_options(synchronize_session=False)
    )
    return sorted(session.scalars(stmt).all(), key=lambda n: n.id)


def claim_mysql(
    session: Session, *, limit: int, now: datetime, values: dict[str, Any]
) -> list[Notification]:
    """MySQL/MariaDB: the same claim in three statements."""
    # No UPDATE … RETURNING: lock the due rows (SKIP LOCKED), update them, read them back.
    # Oldest due first, in the order of ix_notifications_status_next_attempt_at: MariaDB (10.11)
    # returns no row at all when a filesort (ORDER BY id) meets a row another worker locked.
    ids = list(session.scalars(_due(limit, now, Notification.next_attempt_at, Notification.id)))
    if not ids:
        return []
    session.execute(
        update(Notification)
        .where(Notification.id.in_(ids))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    q = select(Notification).where(Notification.id.in_(ids)).order_by(Notification.id)
    return list(session.scalars(q.execution_options(populate_existing=True)))
