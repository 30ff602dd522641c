"""Maintenance tasks: log cleanup."""

from __future__ import annotations

from datetime import UTC, datetime

from prefect import task

from app.db import session_scope
from app.platform.logs import cleanup_logs
from tasks.defaults import TASK_DEFAULTS


@task(name="apagar-logs-antigos", **TASK_DEFAULTS)
def delete_old_logs(older_than_days: int) -> dict[str, int]:
    """Delete old operational logs and settled delivery attempts in one transaction."""
    with session_scope() as session:
        return cleanup_logs(session, older_than_days=older_than_days, now=datetime.now(UTC))
