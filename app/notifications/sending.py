"""The send step of the outbox: claimed rows to the channels, with the Redis journal.

No database here. Each claimed row gets exactly one :class:`Outcome`. Around every provider
call a journal entry ``contab:outbox:journal:{id}`` is written in Redis — ``enviando`` just
before, ``enviada\t<provider id>`` (or ``sandbox\t…``) right after the acceptance, removed on
a refusal — so that ``app.notifications.delivery.recover_stale`` can tell, after a crash, a message
that was sent from one that was never tried (policy: ``app.notifications.delivery``).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from app.errors import ChannelError, StorageError
from app.notify.base import OPT_OUT, Attachment, Link, Message, RateLimited, SendResult

__all__ = [
    "JOURNAL_PREFIX",
    "Claimed",
    "FileRef",
    "Outcome",
    "Senders",
    "backoff",
    "send_claimed",
]

BATCH_BUDGET_SECONDS = 90.0  # stop sending and release the rest well inside the 120 s timeout
# Backoff after the n-th failed attempt (seconds), ±50 % jitter so retries of a burst spread.
BACKOFF_SECONDS = (60.0, 300.0, 900.0)
CHANNEL_DOWN_RETRY_SECONDS = 60.0
MAX_INLINE_WAIT_SECONDS = 2.0  # a shorter provider pause is waited out inside the batch
JOURNAL_PREFIX = "contab:outbox:journal:"
JOURNAL_TTL_SECONDS = 7 * 24 * 3600
CANAL_INDISPONIVEL = "canal_indisponivel"
ANEXO_INEXISTENTE = "anexo_inexistente"

# Outcome kinds of one claimed row; "not counted" kinds give the attempt back.
SENT, SANDBOX, TRANSIENT, PERMANENT = "enviada", "sandbox", "falha_temporaria", "falha_permanente"
THROTTLED, CHANNEL_DOWN, RELEASED = "limite_de_taxa", CANAL_INDISPONIVEL, "liberada"
NOT_COUNTED = frozenset({THROTTLED, CHANNEL_DOWN, RELEASED})
# Delivery status order: a late webhook never moves a notification backwards.
STATUS_RANK = {"pendente": 0, "enviando": 0, "enviada": 1, "entregue": 2, "lida": 3}


@dataclass(frozen=True, slots=True)
class FileRef:
    """An attachment of a claimed row, resolved to its storage key."""

    storage_key: str
    filename: str
    content_type: str


@dataclass(frozen=True, slots=True)
class Claimed:
    """A snapshot of a claimed row: everything needed to send it without the database."""

    id: int
    idempotency_key: str
    channel: str
    recipient: str
    template: str
    context: dict[str, Any]
    attempts: int
    max_attempts: int
    files: tuple[FileRef, ...] = ()
    blocked: str | None = None  # a permanent code found at claim time (opt-out, lost file)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one claimed row."""

    notification_id: int
    kind: str
    provider_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    retry_after: float | None = None
    duration_ms: int | None = None


@dataclass
class Senders:
    """The channels of one batch (built by ``app.notify.factory``), storage and Redis."""

    redis: Any
    email: Any | None = None  # EmailChannel
    whatsapp: Any | None = None  # WhatsAppChannel
    storage: Any | None = None  # Storage
    email_limiter: Any | None = None  # TokenBucket
    signed_url_ttl: int = 900
    clock: Callable[[], float] = field(default=time.monotonic)


def backoff(attempt: int) -> timedelta:
    """Wait before retrying after the ``attempt``-th failure, with ±50 % jitter."""
    base = BACKOFF_SECONDS[min(max(attempt, 1), len(BACKOFF_SECONDS)) - 1]
    return timedelta(seconds=base * random.uniform(0.5, 1.5))


def _message(c: Claimed, senders: Senders) -> Message:
    attachments: tuple[Attachment, ...] = ()
    links: tuple[Link, ...] = ()
    storage = senders.storage
    if not c.files:
        pass
    elif storage is None:
        raise StorageError("Armazenamento não configurado para anexos.")
    elif c.channel == "email":
        attachments = tuple(
            Attachment(f.filename, storage.get(f.storage_key), f.content_type) for f in c.files
        )
    else:  # WhatsApp sends documents as a signed, expiring link
        links = tuple(
            Link(
                storage.signed_url(
                    f.storage_key, expires_in=senders.signed_url_ttl, filename=f.filename
                ),
                label=f.filename,
                filename=f.filename,
            )
            for f in c.files
        )
    if c.channel == "whatsapp" and not links and isinstance(c.context.get("link"), str):
        # a tracked link queued by its producer (e.g. a guide's view-recording link): it goes
        # as the template's URL button, so opening it is recorded in the delivery protocol
        links = (Link(c.context["link"], label=str(c.context.get("link_rotulo") or "Abrir")),)
    return Message(
        channel=c.channel,  # type: ignore[arg-type]
        to=c.recipient,
        template=c.template,
        idempotency_key=c.idempotency_key,
        context=c.context,
        attachments=attachments,
        links=links,
    )


def _failure(c: Claimed, exc: ChannelError | StorageError, ms: int | None) -> Outcome:
    if isinstance(exc, RateLimited):
        kind = THROTTLED
    elif isinstance(exc, ChannelError) and exc.permanent:
        kind = PERMANENT
    else:
        kind = TRANSIENT
    retry = getattr(exc, "retry_after", None)
    return Outcome(c.id, kind, None, exc.code, exc.message, retry, ms)


def send_claimed(claimed: list[Claimed], senders: Senders, *, budget: float) -> list[Outcome]:
    """Send the claimed rows (no database); one outcome per row, in order.

    Each channel's rows go out in their own thread, so e-mails never queue behind the WhatsApp
    rate limit (both mostly wait on the network); within a channel the order is kept.
    """
    deadline = senders.clock() + budget
    lanes: dict[str, list[Claimed]] = {}
    for c in claimed:
        lanes.setdefault(c.channel, []).append(c)
    stop = threading.Event()  # one lane failed unexpectedly: the others stop early
    if len(lanes) == 1:
        results = [_send_lane(rows, senders, deadline, stop) for rows in lanes.values()]
    else:
        with ThreadPoolExecutor(len(lanes), thread_name_prefix="envio") as pool:
            futures = [pool.submit(_send_lane, r, senders, deadline, stop) for r in lanes.values()]
            results = [f.result() for f in futures]
    by_id = {o.notification_id: o for lane in results for o in lane}
    return [by_id[c.id] for c in claimed]


def _send_lane(
    claimed: list[Claimed], senders: Senders, deadline: float, stop: threading.Event
) -> list[Outcome]:
    """Send one channel's rows in order; the journal pre-marks the next row of this lane."""
    outcomes: list[Outcome] = []
    paused = 0.0  # monotonic time this channel may send again
    down: str | None = None  # why the channel is down, once it is
    email = senders.email if claimed[0].channel == "email" else None
    smtp_cm = email.open() if email is not None else None
    smtp = smtp_cm.__enter__() if smtp_cm is not None else None
    marked: set[int] = set()  # rows whose "enviando" journal entry is already written
    following: list[int | None] = []  # the next row to be tried after each row
    upcoming: int | None = None
    for c in reversed(claimed):
        following.append(upcoming)
        upcoming = c.id if c.blocked is None else upcoming
    following.reverse()
    try:
        for c, after in zip(claimed, following, strict=True):
            if c.blocked is not None:
                outcomes.append(Outcome(c.id, PERMANENT, None, c.blocked, _blocked_text(c)))
                continue
            wait = paused - senders.clock()
            if 0 < wait <= MAX_INLINE_WAIT_SECONDS:
                time.sleep(wait)
            elif wait > 0:
                outcomes.append(Outcome(c.id, RELEASED, retry_after=wait))
                continue
            if down is not None or stop.is_set() or senders.clock() > deadline:
                retry = CHANNEL_DOWN_RETRY_SECONDS if down is not None else 0.0
                outcomes.append(Outcome(c.id, RELEASED, retry_after=retry))
                continue
            outcome = _send_one(c, senders, smtp, marked, after)
            if outcome.kind == THROTTLED:
                paused = senders.clock() + (
                    1.0 if outcome.retry_after is None else outcome.retry_after
                )
            if outcome.kind == CHANNEL_DOWN:
                down = outcome.error_message or CANAL_INDISPONIVEL
            outcomes.append(outcome)
    except BaseException:
        stop.set()
        raise
    finally:
        if smtp_cm is not None:
            smtp_cm.__exit__(None, None, None)
    return outcomes


def _blocked_text(c: Claimed) -> str:
    if c.blocked == OPT_OUT:
        return "O destinatário optou por não receber mensagens."
    return "Anexo inexistente ou apagado."


def _send_one(
    c: Claimed, senders: Senders, smtp: Any, marked: set[int], after: int | None
) -> Outcome:
    """Send one row; on success journal it and pre-mark ``after`` in the same round trip.

    Pre-marking the next row "enviando" early never hides a sent message: at worst a crash
    before that row is tried flags it as a possible duplicate, which resends a message that
    was never delivered. It halves the Redis round trips per message.
    """
    channel = smtp if c.channel == "email" else senders.whatsapp
    if channel is None:
        return Outcome(c.id, CHANNEL_DOWN, None, CANAL_INDISPONIVEL, f"Canal {c.channel} ausente.")
    started = time.perf_counter()
    try:
        message = _message(c, senders)
        if c.channel == "email" and senders.email_limiter is not None:
            if not senders.email_limiter.acquire(timeout=MAX_INLINE_WAIT_SECONDS):
                raise RateLimited(retry_after=max(senders.email_limiter.last_wait, 0.001))
    except (ChannelError, StorageError) as exc:
        return _failure(c, exc, None)
    key = f"{JOURNAL_PREFIX}{c.id}"
    if c.id not in marked:
        senders.redis.set(key, "enviando", ex=JOURNAL_TTL_SECONDS)
    try:
        result: SendResult = channel.send(message)
    except ChannelError as exc:
        senders.redis.delete(key)  # refused: nothing reached the recipient
        ms = int((time.perf_counter() - started) * 1000)
        if c.channel == "email" and not exc.permanent and not smtp.connected:
            # No connection to the SMTP server: the channel is down, not this message.
            return Outcome(c.id, CHANNEL_DOWN, None, CANAL_INDISPONIVEL, exc.message, None, ms)
        return _failure(c, exc, ms)
    ms = int((time.perf_counter() - started) * 1000)
    kind = SANDBOX if result.sandboxed else SENT
    pipe = senders.redis.pipeline(transaction=False)
    pipe.set(key, f"{kind}\t{result.provider_id}", ex=JOURNAL_TTL_SECONDS)
    if after is not None:
        pipe.set(f"{JOURNAL_PREFIX}{after}", "enviando", ex=JOURNAL_TTL_SECONDS)
        marked.add(after)
    pipe.execute()
    return Outcome(c.id, kind, result.provider_id, duration_ms=ms)
