"""limpeza-de-logs rules: old operational logs go; retention-protected data never does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from app.platform.logs import cleanup_logs
from models import AuditLog, DeliveryAttempt, Notification, OperationalLog

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def _seed(db) -> dict[str, int]:  # type: ignore[no-untyped-def]
    old, recent = NOW - timedelta(days=200), NOW - timedelta(days=5)
    db.add_all(
        [OperationalLog(at=old, level="INFO", source="t", message="velho") for _ in range(3)]
        + [OperationalLog(at=recent, level="INFO", source="t", message="novo")]
        + [
            AuditLog(
                at=old - timedelta(days=3000), actor="x", action="documento.apagado", entity="doc"
            )
        ]
    )
    sent = Notification(
        idempotency_key="k1", channel="email", recipient="a@b.c", template="t", status="enviada"
    )
    pending = Notification(
        idempotency_key="k2", channel="email", recipient="a@b.c", template="t", status="pendente"
    )
    db.add_all([sent, pending])
    db.flush()
    db.add_all(
        [
            DeliveryAttempt(notification_id=sent.id, at=old, channel="email", outcome="enviada"),
            DeliveryAttempt(
                notification_id=pending.id, at=old, channel="email", outcome="falha_temporaria"
            ),
            DeliveryAttempt(notification_id=sent.id, at=recent, channel="email", outcome="enviada"),
        ]
    )
    db.flush()
    return {"sent": sent.id, "pending": pending.id}


def count(db, model) -> int:  # type: ignore[no-untyped-def]
    return int(db.scalar(select(func.count()).select_from(model)))


def test_removes_old_logs_and_settled_attempts_only(db) -> None:  # type: ignore[no-untyped-def]
    ids = _seed(db)
    removed = cleanup_logs(db, older_than_days=90, now=NOW)
    assert removed == {"operational_logs": 3, "delivery_attempts": 1}
    assert [m for (m,) in db.execute(select(OperationalLog.message))] == ["novo"]
    # the in-flight notification keeps its history; the audit log (7-year retention) is intact
    kept = {n for (n,) in db.execute(select(DeliveryAttempt.notification_id))}
    assert ids["pending"] in kept
    assert count(db, AuditLog) == 1
    assert count(db, Notification) == 2


def test_rerun_changes_nothing(db) -> None:  # type: ignore[no-untyped-def]
    _seed(db)
    cleanup_logs(db, older_than_days=90, now=NOW)
    assert cleanup_logs(db, older_than_days=90, now=NOW) == {
        "operational_logs": 0,
        "delivery_attempts": 0,
    }


def test_batches_large_tables(db) -> None:  # type: ignore[no-untyped-def]
    old = NOW - timedelta(days=400)
    db.add_all(
        [OperationalLog(at=old, level="INFO", source="t", message=str(i)) for i in range(25)]
    )
    db.flush()
    assert cleanup_logs(db, older_than_days=90, now=NOW, batch=10)["operational_logs"] == 25


def test_task_commits_its_transaction(clean_db) -> None:  # type: ignore[no-untyped-def]
    from app.db import session_scope
    from tasks.maintenance import delete_old_logs

    with session_scope() as s:
        s.add(
            OperationalLog(
                at=datetime.now(UTC) - timedelta(days=120), level="INFO", source="t", message="x"
            )
        )
    assert delete_old_logs.fn(90) == {"operational_logs": 1, "delivery_attempts": 0}
    with session_scope() as s:
        assert count(s, OperationalLog) == 0
