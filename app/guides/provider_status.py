"""Provider delivery statuses move the guides their messages deliver — by an explicit call.

``app.notifications`` records a message's statuses and returns the changes it made
(``StatusChange``); it never imports ``app.guides``. The callers hand those changes here:
``tasks.notifications`` passes :func:`follow_statuses` to ``deliver_batch``, and the WhatsApp
webhook records through :func:`record_provider_statuses`. A guide whose message was delivered
or read becomes ``entregue`` / ``visualizada`` (``app.guides.protocol.status_hook``).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from app.guides.protocol import status_hook
from app.notifications.statuses import StatusChange, WebhookReport, apply_statuses
from app.notify.webhook import StatusUpdate

__all__ = ["follow_statuses", "record_provider_statuses"]


def follow_statuses(session: Session, changes: Iterable[StatusChange]) -> None:
    """Advance the guides delivered by the messages whose status changed (same transaction)."""
    for change in changes:
        status_hook(session, change.notification, change.status)


def record_provider_statuses(session: Session, updates: Iterable[StatusUpdate]) -> WebhookReport:
    """The WhatsApp status webhook: record each status, then move the guides it concerns."""
    report = apply_statuses(session, updates)
    follow_statuses(session, report.changes)
    return report
