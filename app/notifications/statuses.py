"""Status changes of a notification (enviada, entregue, lida, falhou) and the WhatsApp webhook.

Every change goes through :func:`on_status`: it writes the guide delivery protocol rows
(``guide_events``) for messages already linked to a guide by a ``GuideEvent.notification_id``
row, and returns a :class:`StatusChange`. Nothing here knows what a guide's own status is: the
functions that change statuses hand their ``StatusChange`` list back to the caller, which passes
it explicitly to whoever follows them (``app.guides.provider_status.follow_statuses`` moves a
guide to ``entregue``/``visualizada``). No registry, no hook to install at each entry point.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.notifications.sending import STATUS_RANK, backoff
from app.notify.base import FALHA_PERMANENTE, FALHA_TEMPORARIA
from app.notify.webhook import StatusUpdate
from app.notify.whatsapp_errors import CLOUD_API_ERRORS
from models import DeliveryAttempt, GuideEvent, Notification

__all__ = [
    "GUIDE_EVENT_FOR_STATUS",
    "WEBHOOK_STATUS",
    "StatusChange",
    "WebhookReport",
    "apply_status",
    "apply_statuses",
    "guide_links",
    "mark_failed",
    "on_status",
    "reschedule",
]

# Notification status -> guide_events.kind of the guide delivery protocol.
GUIDE_EVENT_FOR_STATUS = {
    "enviada": "enviada",
    "entregue": "entregue",
    "lida": "visualizada",
    "falhou": "falha_envio",
}
# Cloud API status -> our notification status.
WEBHOOK_STATUS = {"sent": "enviada", "delivered": "entregue", "read": "lida", "failed": "falhou"}


@dataclass(frozen=True, slots=True)
class StatusChange:
    """A notification reached ``status`` (in the caller's transaction)."""

    notification: Notification
    status: str


@dataclass
class WebhookReport:
    """What one webhook delivery did: statuses received, matched, and the changes they made."""

    received: int = 0
    matched: int = 0
    changes: list[StatusChange] = field(default_factory=list)


def reschedule(n: Notification, when: datetime) -> None:
    """Back to ``pendente`` at ``when`` (released by its worker)."""
    n.status, n.next_attempt_at, n.claimed_by = "pendente", when, None


def guide_links(session: Session, rows: dict[int, Notification]) -> dict[int, set[int]]:
    """notification id -> guides it delivers (via existing ``GuideEvent.notification_id``)."""
    if not rows:
        return {}
    links: dict[int, set[int]] = {}
    q = select(GuideEvent.notification_id, GuideEvent.guide_id).where(
        GuideEvent.notification_id.in_(list(rows))
    )
    for notification_id, guide_id in session.execute(q):
        if notification_id is not None:
            links.setdefault(int(notification_id), set()).add(int(guide_id))
    return links


def on_status(
    session: Session,
    notification: Notification,
    status: str,
    *,
    at: datetime | None = None,
    guide_ids: set[int] | None = None,
) -> StatusChange:
    """A notification reached ``status``: write the guide protocol rows; return the change."""
    kind = GUIDE_EVENT_FOR_STATUS.get(status)
    if kind is not None:
        if guide_ids is None:
            guide_ids = guide_links(session, {notification.id: notification}).get(
                notification.id, set()
            )
        for guide_id in sorted(guide_ids):
            exists = session.scalar(
                select(GuideEvent.id).where(
                    GuideEvent.guide_id == guide_id,
                    GuideEvent.notification_id == notification.id,
                    GuideEvent.kind == kind,
                )
            )
            if exists is None:
                session.add(
                    GuideEvent(
                        guide_id=guide_id,
                        kind=kind,
                        at=at or datetime.now(UTC),
                        channel=notification.channel,
                        actor="notificacoes",
                        notification_id=notification.id,
                        details={"provider_id": notification.provider_id},
                    )
                )
    return StatusChange(notification, status)


def mark_failed(
    session: Session,
    n: Notification,
    code: str,
    reason: str | None,
    guides: dict[int, set[int]] | None = None,
) -> StatusChange:
    """``falhou`` with the stable code and reason."""
    n.status, n.last_error_code, n.last_error = "falhou", code, reason
    ids = None if guides is None else guides.get(n.id, set())
    return on_status(session, n, "falhou", guide_ids=ids)


def apply_status(
    session: Session, update_: StatusUpdate
) -> tuple[Notification, StatusChange | None] | None:
    """Record one WhatsApp status webhook (found by wamid, else by idempotency key).

    None when no notification matches; else the notification and the change it made (None
    when the status was already known or does not move it forward)."""
    status = WEBHOOK_STATUS.get(update_.status)
    if status is None:
        return None
    n = session.scalar(
        select(Notification)
        .where(Notification.provider_id == update_.provider_id)
        .with_for_update()
    )
    if n is None and update_.idempotency_key:
        n = session.scalar(
            select(Notification)
            .where(Notification.idempotency_key == update_.idempotency_key)
            .with_for_update()
        )
    if n is None:
        return None
    outcome = f"status_{status}"
    seen = session.scalar(
        select(DeliveryAttempt.id).where(
            DeliveryAttempt.notification_id == n.id,
            DeliveryAttempt.outcome == outcome,
            DeliveryAttempt.at == update_.timestamp,
        )
    )
    if seen is not None:  # Meta re-delivers webhooks; the same status is recorded once
        return n, None
    error = update_.errors[0] if update_.errors else None
    code = None
    if error is not None:
        rule = CLOUD_API_ERRORS.get(error.code)
        code = rule.code if rule else FALHA_PERMANENTE
    session.add(
        DeliveryAttempt(
            notification_id=n.id,
            at=update_.timestamp,
            channel=n.channel,
            outcome=outcome,
            provider_id=update_.provider_id,
            error_code=code,
            error_message=(error.details or error.message or error.title) if error else None,
        )
    )
    if n.provider_id is None:
        n.provider_id = update_.provider_id
    change = None
    if status == "falhou":
        if STATUS_RANK.get(n.status, 9) < 2:  # a failure after delivery is noise
            reason = error.title if error else "Falha informada pelo WhatsApp."
            if code == FALHA_TEMPORARIA and n.attempts < n.max_attempts:
                reschedule(n, datetime.now(UTC) + backoff(n.attempts))
                n.last_error_code, n.last_error = code, reason
            else:
                change = mark_failed(session, n, code or FALHA_PERMANENTE, reason)
    elif STATUS_RANK.get(status, 0) > STATUS_RANK.get(n.status, 9):
        n.status = status
        n.sent_at = n.sent_at or update_.timestamp
        n.claimed_by = None
        change = on_status(session, n, status, at=update_.timestamp)
    session.flush()
    return n, change


def apply_statuses(session: Session, updates: Iterable[StatusUpdate]) -> WebhookReport:
    """Record a webhook's statuses in order; the report carries the changes for the caller."""
    report = WebhookReport()
    for update_ in updates:
        report.received += 1
        applied = apply_status(session, update_)
        if applied is None:
            continue
        report.matched += 1
        if applied[1] is not None:
            report.changes.append(applied[1])
    return report
