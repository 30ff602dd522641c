"""Provider statuses reach the guide protocol by an explicit call (no hook to install)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.guides import protocol
from app.guides.provider_status import record_provider_statuses
from app.notify.webhook import StatusUpdate
from models import GuideEvent, Notification
from tests.services.test_guides_protocol import _ready_guide

T0 = datetime(2026, 4, 6, 12, 0, tzinfo=UTC)


def _update(n: Notification, status: str, at: datetime) -> StatusUpdate:
    return StatusUpdate(
        provider_id=f"wamid.{n.id}",
        status=status,
        timestamp=at,
        recipient_id=n.recipient,
        idempotency_key=n.idempotency_key,
    )


def test_webhook_statuses_move_the_guide_and_write_its_protocol(db: Session) -> None:
    g = _ready_guide(db)
    protocol.send(db, guide_ids=[g.id])
    n = db.scalars(select(Notification).where(Notification.channel == "whatsapp")).one()
    n.status, n.provider_id = "enviada", f"wamid.{n.id}"
    db.flush()

    report = record_provider_statuses(db, [_update(n, "delivered", T0)])
    assert (report.received, report.matched, len(report.changes)) == (1, 1, 1)
    assert n.status == "entregue" and g.status == "entregue"
    # Meta re-delivers the same webhook: recorded once, nothing moves.
    again = record_provider_statuses(db, [_update(n, "delivered", T0)])
    assert (again.matched, again.changes) == (1, [])
    record_provider_statuses(db, [_update(n, "read", T0 + timedelta(minutes=5))])
    assert g.status == "visualizada"
    kinds = db.scalars(
        select(GuideEvent.kind).where(
            GuideEvent.guide_id == g.id, GuideEvent.notification_id == n.id
        )
    )
    assert {"entregue", "visualizada"} <= set(kinds)


def test_a_status_for_an_unknown_message_is_counted_but_not_matched(db: Session) -> None:
    unknown = StatusUpdate(
        provider_id="wamid.x", status="delivered", timestamp=T0, recipient_id="1"
    )
    report = record_provider_statuses(db, [unknown])
    assert (report.received, report.matched, report.changes) == (1, 0, [])
