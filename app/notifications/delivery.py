"""Drain the outbox: claim a batch, send it, record every attempt — never a message twice.

One batch (:func:`deliver_batch`) is three steps, two of them short transactions:

1. **claim** — ``UPDATE … FROM (SELECT … WHERE status='pendente' AND next_attempt_at <= now
   ORDER BY id LIMIT n FOR UPDATE SKIP LOCKED)``: rows become ``enviando`` with ``claimed_at``,
   a ``claimed_by`` token unique to this batch and ``attempts + 1``; committed at once, so two
   workers never hold the same row.
2. **send** — outside any transaction, one SMTP connection and one httpx client per batch, a
   Redis token bucket per channel. Each channel's rows go out in order in their own thread (a
   *lane*: e-mails never wait behind WhatsApp's rate limit), so at most one row per channel is
   in flight. Around each provider call a Redis *journal* entry is written: ``enviando`` before
   the call (at the latest just before it: it rides on the previous row's round trip),
   ``enviada <provider id>`` right after the provider accepted.
3. **record** — one transaction: ``enviada`` (provider id, sent_at) | back to ``pendente`` with
   backoff and jitter (transient, until ``max_attempts`` = 3, the guide) | ``falhou`` with the
   stable code and reason (permanent, or attempts exhausted); one DeliveryAttempt row each.
   Throttling (429 / local bucket) and an unreachable SMTP server do not burn an attempt.

Crash between "sent" and "recorded" (policy). A row left ``enviando`` longer than the lease
(10 min, far above the 120 s task timeout and the batch's own time budget) belonged to a dead
worker; the next run recovers it with the journal:
- journal ``enviada`` → recorded as sent with the journaled provider id; **not resent**;
- no journal → the worker died before trying it → back to ``pendente``, attempt not counted;
- journal ``enviando`` → the worker died while the provider was answering, the only case whose
  outcome is unknown (at most one row per channel). It goes back to ``pendente`` with a
  DeliveryAttempt ``reenvio_apos_falha`` (visible as a possible duplicate). The resend is the
  same message: the e-mail keeps its Message-ID (derived from the idempotency key, receivers
  deduplicate) and the WhatsApp message carries the key in ``biz_opaque_callback_data`` — if
  Meta had accepted it, its status webhook has meanwhile reconciled the row by that key (see
  ``apply_status``), so it is no longer ``enviando`` and is not resent.
The duplicate window is therefore the instant between the provider's acceptance and one Redis
SET (well under a millisecond) of a crashed worker; everything else is exactly-once.

Status changes (``enviada``, ``falhou``) go through ``app.notifications.statuses.on_status``,
which writes the guide delivery protocol rows; :func:`deliver_batch` hands the changes of each
transaction to the ``follow_statuses`` function its caller passes (explicitly: no registry).
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from app.notifications.claiming import claim_mysql, claim_pg
from app.notifications.sending import (
    ANEXO_INEXISTENTE,
    BATCH_BUDGET_SECONDS,
    JOURNAL_PREFIX,
    NOT_COUNTED,
    PERMANENT,
    RELEASED,
    SANDBOX,
    SENT,
    STATUS_RANK,
    TRANSIENT,
    Claimed,
    FileRef,
    Outcome,
    Senders,
    backoff,
    send_claimed,
)
from app.notifications.statuses import (
    WEBHOOK_STATUS,
    StatusChange,
    apply_status,
    guide_links,
    mark_failed,
    on_status,
    reschedule,
)
from app.notify.base import FALHA_PERMANENTE, OPT_OUT
from app.sqlcompat import is_mysql, skip_locked
from models import Contact, DeliveryAttempt, Notification, StoredFile

__all__ = [
    "LEASE",
    "WEBHOOK_STATUS",
    "Claimed",
    "FileRef",
    "Outcome",
    "Senders",
    "StatusChange",
    "FollowStatuses",
    "apply_status",
    "backoff",
    "claim_batch",
    "deliver_batch",
    "on_status",
    "record_outcomes",
    "recover_stale",
]

LEASE = timedelta(minutes=10)
ENVIO_INTERROMPIDO = "envio_interrompido"
# Called inside the transaction that recorded the changes (e.g. to move the guides they deliver).
FollowStatuses = Callable[[Session, Sequence[StatusChange]], object]


def worker_token() -> str:
    """A claim token unique to one batch of one process."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"[:100]


# ---------------------------------------------------------------------------- claim


def claim_batch(session: Session, *, worker: str, limit: int, now: datetime) -> list[Claimed]:
    """Claim up to ``limit`` due rows for ``worker`` (SKIP LOCKED); the caller commits."""
    values = {
        "status": "enviando",
        "claimed_at": now,
        "claimed_by": worker,
        "attempts": Notification.attempts + 1,
    }
    claim = claim_mysql if is_mysql(session) else claim_pg
    rows = claim(session, limit=limit, now=now, values=values)
    files = _files(session, {int(f) for n in rows for f in n.attachments or ()})
    opted_out = _opted_out(session, rows)
    out = []
    for n in rows:
        refs = tuple(files[int(f)] for f in n.attachments or () if int(f) in files)
        blocked = None
        if (n.empresa_id, n.channel, n.recipient.lower()) in opted_out:
            blocked = OPT_OUT
        elif len(refs) != len(n.attachments or ()):
            blocked = ANEXO_INEXISTENTE
        out.append(
            Claimed(
                id=n.id,
                idempotency_key=n.idempotency_key,
                channel=n.channel,
                recipient=n.recipient,
                template=n.template,
                context=dict(n.context or {}),
                attempts=n.attempts,
                max_attempts=n.max_attempts,
                files=refs,
                blocked=blocked,
            )
        )
    return out


def _files(session: Session, ids: set[int]) -> dict[int, FileRef]:
    if not ids:
        return {}
    rows = session.scalars(
        select(StoredFile).where(StoredFile.id.in_(ids), StoredFile.deleted_at.is_(None))
    )
    return {f.id: FileRef(f.storage_key, f.original_name, f.content_type) for f in rows}


def _opted_out(session: Session, rows: Iterable[Notification]) -> set[tuple[int, str, str]]:
    """(empresa, channel, address) of contacts who opted out since the message was queued."""
    empresas = {n.empresa_id for n in rows if n.empresa_id is not None}
    if not empresas:
        return set()
    out: set[tuple[int, str, str]] = set()
    contacts = session.scalars(
        select(Contact).where(
            Contact.empresa_id.in_(empresas),
            Contact.opt_out_email.is_(True) | Contact.opt_out_whatsapp.is_(True),
        )
    )
    for c in contacts:
        if c.opt_out_email and c.email:
            out.add((c.empresa_id, "email", c.email.lower()))
        if c.opt_out_whatsapp and c.phone:
            out.add((c.empresa_id, "whatsapp", c.phone.lower()))
    return out


# ---------------------------------------------------------------------------- record


def record_outcomes(
    session: Session,
    outcomes: list[Outcome],
    *,
    worker: str,
    now: datetime,
    changes: list[StatusChange] | None = None,
) -> dict[str, int]:
    """Apply the outcomes of ``worker``'s batch and add one DeliveryAttempt per attempt; the
    status changes are appended to ``changes`` when given."""
    made = changes if changes is not None else []
    summary = {"enviadas": 0, "reagendadas": 0, "falharam": 0, "liberadas": 0}
    if not outcomes:
        return summary
    rows = {
        n.id: n
        for n in session.scalars(
            select(Notification)
            .where(Notification.id.in_([o.notification_id for o in outcomes]))
            .with_for_update()
        )
    }
    guides = guide_links(session, rows)
    attempts: list[dict[str, Any]] = []
    for o in outcomes:
        n = rows.get(o.notification_id)
        if n is None:
            continue
        if o.kind != RELEASED:
            attempts.append(_attempt_row(n, o, now))
        if n.claimed_by != worker or n.status != "enviando":
            # Recovered by another run after our lease (or reconciled by a webhook): only a
            # confirmed send may still move it forward.
            if o.kind in (SENT, SANDBOX) and STATUS_RANK.get(n.status, 9) < 1:
                made.append(_mark_sent(session, n, o, now, guides))
            continue
        if o.kind in (SENT, SANDBOX):
            made.append(_mark_sent(session, n, o, now, guides))
            summary["enviadas"] += 1
        elif o.kind in NOT_COUNTED:
            n.attempts = max(n.attempts - 1, 0)
            reschedule(n, now + timedelta(seconds=o.retry_after or 0.0))
            summary["liberadas" if o.kind == RELEASED else "reagendadas"] += 1
        elif o.kind == TRANSIENT and n.attempts < n.max_attempts:
            reschedule(n, now + backoff(n.attempts))
            n.last_error_code, n.last_error = o.error_code, o.error_message
            summary["reagendadas"] += 1
        else:
            made.append(
                mark_failed(session, n, o.error_code or FALHA_PERMANENTE, o.error_message, guides)
            )
            summary["falharam"] += 1
    if attempts:
        session.execute(insert(DeliveryAttempt), attempts)
    session.flush()
    return summary


def _attempt_row(n: Notification, o: Outcome, now: datetime) -> dict[str, Any]:
    outcome = o.kind if o.kind in (SENT, SANDBOX, PERMANENT) else TRANSIENT
    return {
        "notification_id": n.id,
        "at": now,
        "channel": n.channel,
        "outcome": outcome,
        "provider_id": o.provider_id,
        "error_code": o.error_code,
        "error_message": o.error_message,
        "duration_ms": o.duration_ms,
    }


def _mark_sent(
    session: Session, n: Notification, o: Outcome, now: datetime, guides: dict[int, set[int]]
) -> StatusChange:
    n.status, n.provider_id, n.sent_at = "enviada", o.provider_id, now
    n.last_error_code = None if o.kind == SENT else "sandbox"
    n.last_error = None
    return on_status(session, n, "enviada", at=now, guide_ids=guides.get(n.id, set()))


# ---------------------------------------------------------------------------- crash recovery


def recover_stale(
    session: Session,
    *,
    redis: Any,
    now: datetime,
    lease: timedelta = LEASE,
    changes: list[StatusChange] | None = None,
) -> dict[str, int]:
    """Settle rows a dead worker left ``enviando`` beyond the lease (policy in the docstring);
    the status changes are appended to ``changes`` when given."""
    made = changes if changes is not None else []
    due = select(Notification).where(
        Notification.status == "enviando", Notification.claimed_at < now - lease
    )
    stale = sorted(session.scalars(skip_locked(session, due, Notification.id)), key=lambda n: n.id)
    summary = {"recuperadas_enviadas": 0, "reenvio_apos_falha": 0, "nao_tentadas": 0}
    if not stale:
        return summary
    keys = [f"{JOURNAL_PREFIX}{n.id}" for n in stale]
    journal = redis.mget(keys)
    guides = guide_links(session, {n.id: n for n in stale})
    attempts: list[dict[str, Any]] = []
    for n, raw in zip(stale, journal, strict=True):
        entry = raw.decode() if isinstance(raw, bytes) else raw
        if entry and entry.startswith((SENT, SANDBOX)):
            kind, _, provider_id = entry.partition("\t")
            o = Outcome(n.id, kind, provider_id, ENVIO_INTERROMPIDO, "Envio confirmado no diário.")
            made.append(_mark_sent(session, n, o, now, guides))
            attempts.append(_attempt_row(n, o, now))
            summary["recuperadas_enviadas"] += 1
        elif entry == "enviando":
            attempts.append(
                {
                    "notification_id": n.id,
                    "at": now,
                    "channel": n.channel,
                    "outcome": "reenvio_apos_falha",
                    "error_code": ENVIO_INTERROMPIDO,
                    "error_message": "Trabalhador interrompido durante o envio; pode duplicar.",
                }
            )
            reschedule(n, now)
            summary["reenvio_apos_falha"] += 1
        else:
            n.attempts = max(n.attempts - 1, 0)
            reschedule(n, now)
            summary["nao_tentadas"] += 1
    if attempts:
        session.execute(insert(DeliveryAttempt), attempts)
    session.flush()
    redis.delete(*keys)
    return summary


# ---------------------------------------------------------------------------- one batch


def deliver_batch(
    *,
    transaction: Callable[[], AbstractContextManager[Session]],
    senders: Senders,
    limit: int = 500,
    lease: timedelta = LEASE,
    budget: float = BATCH_BUDGET_SECONDS,
    now: Callable[[], datetime] | None = None,
    follow_statuses: FollowStatuses | None = None,
) -> dict[str, int]:
    """Recover stale rows, claim, send and record one batch.

    ``transaction`` opens one committed transaction (``app.db.session_scope``): sending must
    happen between two of them, never inside one, so this is the one service that is handed a
    transaction factory instead of a session. ``follow_statuses`` (e.g.
    ``app.guides.provider_status.follow_statuses``) receives each transaction's status changes
    inside that transaction.
    """
    clock = now or (lambda: datetime.now(UTC))
    worker = worker_token()
    with transaction() as session:
        changes: list[StatusChange] = []
        report: dict[str, int] = recover_stale(
            session, redis=senders.redis, now=clock(), lease=lease, changes=changes
        )
        if follow_statuses is not None and changes:
            follow_statuses(session, changes)
    with transaction() as session:
        claimed = claim_batch(session, worker=worker, limit=limit, now=clock())
    report["reivindicadas"] = len(claimed)
    if not claimed:
        return report
    outcomes = send_claimed(claimed, senders, budget=budget)
    with transaction() as session:
        changes = []
        report.update(
            record_outcomes(session, outcomes, worker=worker, now=clock(), changes=changes)
        )
        if follow_statuses is not None and changes:
            follow_statuses(session, changes)
    # Recorded: the journal has done its job (released rows may carry an early mark).
    senders.redis.delete(*(f"{JOURNAL_PREFIX}{o.notification_id}" for o in outcomes))
    return report
