"""What the database knows: guide generation failures, late document requests, the outbox and
the last good backup. Six aggregate queries on the side pool (never the requests' pool), labels
of bounded cardinality only (guide kind, channel, outcome)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import text

from app.db import get_side_engine
from app.notifications.outbox import CHANNELS
from app.settings import get_settings
from app.sqlcompat import is_mysql

__all__ = ["DbSnapshot", "GUIDE_KINDS", "read_db"]

GUIDE_KINDS = ("DAS", "DAE", "DARF", "GFD", "ISS")
DELIVERY_FAILURES = ("falha_temporaria", "falha_permanente")

# A guide whose calculation failed keeps the error in calculation.erro (app/guides/generation.py)
# until a later generation succeeds; a cancelled or paid one no longer matters.
_GUIDES = text(
    "SELECT kind, count(*) FROM guides WHERE calculation -> 'erro' IS NOT NULL "
    "AND status NOT IN ('cancelada', 'paga') GROUP BY kind"
)
# Documents of competência M are due on day :due of M+1; open requests past that are late.
_LATE = text(
    "SELECT count(DISTINCT r.id), count(i.id) FILTER (WHERE i.status = 'pendente') "
    "FROM document_requests r LEFT JOIN request_items i ON i.request_id = r.id "
    "WHERE r.status IN ('aberta', 'parcial') AND (to_date(r.competencia || '-01', 'YYYY-MM-DD') "
    "+ interval '1 month' + make_interval(days => :due - 1)) < :today"
)
_BACKLOG = text(
    "SELECT channel, count(*), coalesce(extract(epoch FROM now() - min(next_attempt_at) "
    "FILTER (WHERE status = 'pendente' AND next_attempt_at <= now())), 0) "
    "FROM notifications WHERE status IN ('pendente', 'enviando') GROUP BY channel"
)
_FAILURES = text(
    "SELECT channel, outcome, count(*) FROM delivery_attempts "
    "WHERE at >= :since AND outcome IN ('falha_temporaria', 'falha_permanente') "
    "GROUP BY channel, outcome"
)
# MySQL/MariaDB spellings of the same aggregates (no FILTER, no jsonb operators, no intervals).
_GUIDES_MY = text(
    "SELECT kind, count(*) FROM guides WHERE JSON_CONTAINS_PATH(calculation, 'one', '$.erro') "
    "AND status NOT IN ('cancelada', 'paga') GROUP BY kind"
)
_LATE_MY = text(
    "SELECT count(DISTINCT r.id), coalesce(sum(i.status = 'pendente'), 0) "
    "FROM document_requests r LEFT JOIN request_items i ON i.request_id = r.id "
    "WHERE r.status IN ('aberta', 'parcial') AND DATE_ADD(DATE_ADD(STR_TO_DATE("
    "CONCAT(r.competencia, '-01'), '%Y-%m-%d'), INTERVAL 1 MONTH), INTERVAL :due - 1 DAY) < :today"
)
_BACKLOG_MY = text(
    "SELECT channel, count(*), coalesce(TIMESTAMPDIFF(MICROSECOND, min(CASE WHEN status = "
    "'pendente' AND next_attempt_at <= UTC_TIMESTAMP(6) THEN next_attempt_at END), "
    "UTC_TIMESTAMP(6)) / 1000000, 0) "
    "FROM notifications WHERE status IN ('pendente', 'enviando') GROUP BY channel"
)
_BACKUP = text("SELECT max(finished_at) FROM backup_runs WHERE status = 'concluido'")


@dataclass
class DbSnapshot:
    """Aggregates of the business tables at one moment."""

    guide_failures: dict[str, int] = field(default_factory=dict)  # kind → guides failing
    late_requests: int = 0
    missing_items: int = 0  # pending items of late requests
    outbox_backlog: dict[str, int] = field(default_factory=dict)  # channel → waiting messages
    outbox_oldest_seconds: dict[str, float] = field(default_factory=dict)
    delivery_failures: dict[tuple[str, str], int] = field(default_factory=dict)
    last_backup_at: datetime | None = None


def read_db(today: date | None = None) -> DbSnapshot:
    """One snapshot (raises when the database does not answer)."""
    s = get_settings()
    now = datetime.now(UTC)
    day = today or now.astimezone(ZoneInfo(s.OFFICE_TIMEZONE)).date()
    snap = DbSnapshot(
        guide_failures=dict.fromkeys(GUIDE_KINDS, 0),
        outbox_backlog=dict.fromkeys(CHANNELS, 0),
        outbox_oldest_seconds=dict.fromkeys(CHANNELS, 0.0),
        delivery_failures={(c, o): 0 for c in CHANNELS for o in DELIVERY_FAILURES},
    )
    with get_side_engine().connect() as conn:
        my = is_mysql(conn)
        for kind, n in conn.execute(_GUIDES_MY if my else _GUIDES):
            snap.guide_failures[kind] = int(n)
        late_sql = _LATE_MY if my else _LATE
        late, missing = conn.execute(late_sql, {"due": s.DOCUMENTS_DUE_DAY, "today": day}).one()
        snap.late_requests, snap.missing_items = int(late), int(missing)
        for channel, n, oldest in conn.execute(_BACKLOG_MY if my else _BACKLOG):
            snap.outbox_backlog[channel] = int(n)
            snap.outbox_oldest_seconds[channel] = float(oldest or 0)
        since = now - timedelta(minutes=s.METRICS_WINDOW_MINUTES)
        for channel, outcome, n in conn.execute(_FAILURES, {"since": since}):
            snap.delivery_failures[(channel, outcome)] = int(n)
        last = conn.execute(_BACKUP).scalar()
        if last is not None and last.tzinfo is None:  # MySQL DATETIME: stored as UTC
            last = last.replace(tzinfo=UTC)
        snap.last_backup_at = last
    return snap
