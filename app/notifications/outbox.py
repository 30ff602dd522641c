"""Transactional outbox: notifications are rows written in the caller's transaction.

A row is created at most once per idempotency key (``INSERT … ON CONFLICT DO NOTHING`` on the
unique key), so re-running any flow that queues messages never queues a second one. Recipients of
an empresa come from its active contacts and their per-kind channel preferences (with opt-outs);
internal alerts go to the responsible staff. Sending is `enviar-notificacoes`' job.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Table, func, select, text
from sqlalchemy.orm import Session

from app.documents.bulk import json_table, rows_json_mysql
from app.errors import MISSING_NOTIFICACAO, Conflict
from app.platform import audit
from app.sqlcompat import is_mysql, mysql_texts
from models import Contact, Notification, Staff

__all__ = [
    "REQUEUEABLE_STATUSES",
    "Recipient",
    "empresa_recipients",
    "empresa_recipients_many",
    "enqueue",
    "enqueue_many",
    "jsonable",
    "list_notifications",
    "notification_rows",
    "requeue",
    "staff_recipients",
]

# A message an operator may put back in the queue (guide: a failed job can be re-run).
REQUEUEABLE_STATUSES = ("falhou", "cancelada")

CHANNELS = ("email", "whatsapp")
DEFAULT_PREFERENCES: dict[str, list[str]] = {"*": ["email"]}
# Rows per INSERT (one array parameter per column, whatever the row count).
_INSERT_CHUNK = 5000
_INSERT_SQL = text(
    "INSERT INTO notifications (idempotency_key, empresa_id, channel, recipient, template, "
    "context, attachments, status, attempts, max_attempts) SELECT k, e, ch, rc, tp, "
    "CAST(cx AS jsonb), CAST(att AS jsonb), 'pendente', 0, 3 FROM unnest("
    "CAST(:k AS varchar[]), CAST(:e AS bigint[]), CAST(:ch AS varchar[]), "
    "CAST(:rc AS varchar[]), CAST(:tp AS varchar[]), CAST(:cx AS text[]), "
    "CAST(:at AS text[])) AS u(k, e, ch, rc, tp, cx, att) "
    "ON CONFLICT (idempotency_key) DO NOTHING"
)

_MY_COLUMNS = ("idempotency_key", "empresa_id", "channel", "recipient", "template", "context",
               "attachments")  # fmt: skip
# MySQL/MariaDB: the rows as one JSON document expanded by JSON_TABLE; the keys already present
# are read first (ON DUPLICATE KEY UPDATE's row count cannot tell an insert from a no-op).
_PRESENT_MY = text(
    "SELECT idempotency_key FROM notifications WHERE idempotency_key IN " + mysql_texts("keys", 200)
)


@lru_cache(maxsize=1)
def _insert_my() -> Any:
    table = cast(Table, Notification.__table__)
    cols = ", ".join(_MY_COLUMNS)
    return text(
        f"INSERT INTO notifications ({cols}, status, attempts, max_attempts) "
        f"SELECT {cols}, 'pendente', 0, 3 FROM {json_table(table, _MY_COLUMNS)} "
        "ON DUPLICATE KEY UPDATE id = notifications.id"
    )


def _enqueue_mysql(session: Session, part: Sequence[dict[str, Any]]) -> int:
    table = cast(Table, Notification.__table__)
    unique = {r["idempotency_key"]: r for r in part}
    present = set(session.scalars(_PRESENT_MY, {"keys": json.dumps(list(unique))}))
    rows = [
        {**r, "attachments": r.get("attachments") or []}
        for k, r in unique.items()
        if k not in present
    ]
    if rows:
        session.execute(_insert_my(), {"rows": rows_json_mysql(table, _MY_COLUMNS, rows)})
    return len(rows)


@dataclass(frozen=True, slots=True)
class Recipient:
    """One address on one channel."""

    channel: str
    address: str
    name: str = ""


def empresa_recipients_many(
    session: Session, empresa_ids: Iterable[int], kind: str, *, also: Sequence[str] = ()
) -> dict[int, list[Recipient]]:
    """Per empresa, the contacts that want messages of this kind, on their channels (one query).

    ``also``: channels added for a contact who made no choice for this kind (e.g. WhatsApp for
    order messages when it is configured); an explicit choice for the kind and opt-outs win."""
    out: dict[int, list[Recipient]] = {}
    contacts = session.scalars(
        select(Contact)
        .where(Contact.empresa_id.in_(list(empresa_ids)), Contact.active.is_(True))
        .order_by(Contact.id)
    )
    for c in contacts:
        prefs = c.preferences or DEFAULT_PREFERENCES
        channels = list(prefs.get(kind, prefs.get("*", ["email"])))
        if kind not in prefs:
            channels += [ch for ch in also if ch not in channels]
        for ch in channels:
            if ch == "email" and c.email and not c.opt_out_email:
                out.setdefault(c.empresa_id, []).append(Recipient("email", c.email, c.name))
            elif ch == "whatsapp" and c.phone and not c.opt_out_whatsapp:
                out.setdefault(c.empresa_id, []).append(Recipient("whatsapp", c.phone, c.name))
    return out


def empresa_recipients(
    session: Session, empresa_id: int, kind: str, *, also: Sequence[str] = ()
) -> list[Recipient]:
    """Contacts of the empresa that want messages of this kind, on the channels they chose."""
    return empresa_recipients_many(session, [empresa_id], kind, also=also).get(empresa_id, [])


def staff_recipients(session: Session, staff_ids: Iterable[int | None]) -> list[Recipient]:
    """E-mail of active staff members (internal alerts)."""
    ids = {i for i in staff_ids if i is not None}
    if not ids:
        return []
    rows = session.scalars(select(Staff).where(Staff.id.in_(ids), Staff.active.is_(True)))
    return [Recipient("email", s.email, s.name) for s in rows]


def enqueue_many(session: Session, rows: Sequence[dict[str, Any]]) -> int:
    """Insert notification rows (as :func:`notification_rows` builds them) in bulk; existing
    idempotency keys are skipped. Returns how many were inserted.

    One statement per 5,000 rows, the columns as arrays expanded by ``unnest``: one parameter
    per column instead of a multi-row VALUES (10,000 messages well under a second).
    """
    inserted = 0
    for start in range(0, len(rows), _INSERT_CHUNK):
        part = rows[start : start + _INSERT_CHUNK]
        if is_mysql(session):
            inserted += _enqueue_mysql(session, part)
            continue
        result = session.execute(
            _INSERT_SQL,
            {
                "k": [r["idempotency_key"] for r in part],
                "e": [r["empresa_id"] for r in part],
                "ch": [r["channel"] for r in part],
                "rc": [r["recipient"] for r in part],
                "tp": [r["template"] for r in part],
                "cx": [json.dumps(r["context"]) for r in part],
                "at": [json.dumps(r.get("attachments") or []) for r in part],
            },
        )
        inserted += int(result.rowcount or 0)  # type: ignore[attr-defined]
    return inserted


def jsonable(value: Any) -> Any:
    """Context values as JSON: dates → ISO text, Decimal → text (exact), nested as-is."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def notification_rows(
    *,
    key: str,
    recipients: Iterable[Recipient],
    template: str,
    context: Mapping[str, Any],
    empresa_id: int | None = None,
    attachments: Sequence[int] = (),
) -> list[dict[str, Any]]:
    """The outbox rows ``enqueue`` would insert (for callers that batch many items)."""
    base = jsonable(context)
    return [
        {
            "idempotency_key": f"{key}:{r.channel}:{r.address}"[:200],
            "empresa_id": empresa_id,
            "channel": r.channel,
            "recipient": r.address,
            "template": template,
            # Every template greets "{{ nome }}": the recipient's own name unless given.
            "context": {"nome": r.name or "cliente", **base, "destinatario": r.name},
            "attachments": [int(a) for a in attachments],
        }
        for r in recipients
        if r.channel in CHANNELS
    ]


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
    rows = notification_rows(
        key=key,
        recipients=recipients,
        template=template,
        context=context,
        empresa_id=empresa_id,
        attachments=attachments,
    )
    return enqueue_many(session, rows)


def list_notifications(
    session: Session,
    *,
    status: str | None = None,
    empresa_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[int, list[Notification]]:
    """Notifications filtered by status/empresa, newest first, with the total count."""
    q = select(Notification)
    if status is not None:
        q = q.where(Notification.status == status)
    if empresa_id is not None:
        q = q.where(Notification.empresa_id == empresa_id)
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = session.scalars(q.order_by(Notification.id.desc()).limit(limit).offset(offset))
    return int(total), list(rows)


def requeue(
    session: Session, *, notification_id: int, actor: str, reason: str | None = None
) -> Notification:
    """Put a failed notification back in the queue with fresh attempts (audited)."""
    row = session.get(Notification, notification_id, with_for_update=True)
    if row is None:
        raise MISSING_NOTIFICACAO.error()
    if row.status not in REQUEUEABLE_STATUSES:
        raise Conflict(
            f"Só notificações com falha podem ser reenfileiradas (situação atual: {row.status}).",
            code="notificacao_nao_reenfileiravel",
            status=row.status,
        )
    if row.last_error_code == "guia_cancelada":  # withdrawn with its guide (cancel_guides)
        raise Conflict(
            "A guia desta mensagem foi cancelada; a mensagem não pode ser reenviada.",
            code="guia_cancelada",
        )
    previous = {"status": row.status, "erro": row.last_error_code, "tentativas": row.attempts}
    row.status = "pendente"
    row.attempts = 0
    row.next_attempt_at = datetime.now(UTC)
    row.claimed_at = None
    row.claimed_by = None
    row.last_error_code = None
    row.last_error = None
    audit.record(
        session,
        actor=actor,
        action="notificacao.reenfileirada",
        entity="notification",
        entity_id=row.id,
        empresa_id=row.empresa_id,
        reason=reason,
        details=previous,
    )
    session.flush()
    return row
