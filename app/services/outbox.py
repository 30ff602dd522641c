"""Transactional outbox: notifications are rows written in the caller's transaction.

A row is created at most once per idempotency key (``INSERT … ON CONFLICT DO NOTHING`` on the
unique key), so re-running any flow that queues messages never queues a second one. Recipients of
an empresa come from its active contacts and their per-kind channel preferences (with opt-outs);
internal alerts go to the responsible staff. Sending is `enviar-notificacoes`' job.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from models import Contact, Notification, Staff

__all__ = ["Recipient", "enqueue", "enqueue_many", "empresa_recipients", "staff_recipients"]

CHANNELS = ("email", "whatsapp")
DEFAULT_PREFERENCES: dict[str, list[str]] = {"*": ["email"]}


@dataclass(frozen=True, slots=True)
class Recipient:
    """One address on one channel."""

    channel: str
    address: str
    name: str = ""


def empresa_recipients(session: Session, empresa_id: int, kind: str) -> list[Recipient]:
    """Contacts of the empresa that want messages of this kind, on the channels they chose."""
    out: list[Recipient] = []
    contacts = session.scalars(
        select(Contact).where(Contact.empresa_id == empresa_id, Contact.active.is_(True))
    )
    for c in contacts:
        prefs = c.preferences or DEFAULT_PREFERENCES
        channels = prefs.get(kind, prefs.get("*", ["email"]))
        for ch in channels:
            if ch == "email" and c.email and not c.opt_out_email:
                out.append(Recipient("email", c.email, c.name))
            elif ch == "whatsapp" and c.phone and not c.opt_out_whatsapp:
                out.append(Recipient("whatsapp", c.phone, c.name))
    return out


def staff_recipients(session: Session, staff_ids: Iterable[int | None]) -> list[Recipient]:
    """E-mail of active staff members (internal alerts)."""
    ids = {i for i in staff_ids if i is not None}
    if not ids:
        return []
    rows = session.scalars(select(Staff).where(Staff.id.in_(ids), Staff.active.is_(True)))
    return [Recipient("email", s.email, s.name) for s in rows]


def enqueue_many(session: Session, rows: Sequence[dict[str, Any]]) -> int:
    """Insert notification rows in bulk; existing idempotency keys are skipped. Returns inserted."""
    if not rows:
        return 0
    stmt = (
        insert(Notification)
        .values(list(rows))
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(Notification.id)
    )
    return len(session.execute(stmt).all())


def enqueue(
    session: Session,
    *,
    key: str,
    recipients: Iterable[Recipient],
    template: str,
    context: dict[str, Any],
    empresa_id: int | None = None,
    attachments: Sequence[int] = (),
) -> int:
    """Queue one message per recipient under ``{key}:{channel}:{address}``; returns inserted."""
    rows = [
        {
            "idempotency_key": f"{key}:{r.channel}:{r.address}"[:200],
            "empresa_id": empresa_id,
            "channel": r.channel,
            "recipient": r.address,
            "template": template,
            "context": {**context, "destinatario": r.name},
            "attachments": list(attachments),
        }
        for r in recipients
        if r.channel in CHANNELS
    ]
    return enqueue_many(session, rows)
