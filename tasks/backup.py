"""Backup tasks: the daily backup, pruning, restore and the restore drill (thin glue)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from prefect import task

from app.db import get_sessionmaker
from app.platform.backup import get_backup_target, run_backup
from app.settings import get_settings
from app.storage import get_storage
from tasks.defaults import TASK_DEFAULTS

# pg_dump of a large database outlasts the guide's 120 s job timeout; one hour, 2 retries
# (a backup target that is down is retried; the data side is never touched).
BACKUP_TASK = {**TASK_DEFAULTS, "timeout_seconds": 3600, "retries": 2}


@task(name="backup-banco-arquivos-logs", **BACKUP_TASK)
def backup_task(force: bool = False) -> dict[str, object]:
    """Dump the database, copy new objects, write the manifest and the logs to the target."""
    s = get_settings()
    today = datetime.now(ZoneInfo(s.OFFICE_TIMEZONE)).date()
    return run_backup(
        get_sessionmaker(), get_storage(), s, today=today, target=get_backup_target(s), force=force
    )


@task(name="expurgar-backups-antigos", **BACKUP_TASK)
def prune_task() -> dict[str, object]:
    """Apply the retention policy to the backup target (audited)."""
    from app.platform.backup.retention import Policy, prune

    s = get_settings()
    today = datetime.now(ZoneInfo(s.OFFICE_TIMEZONE)).date()
    policy = Policy(s.BACKUP_KEEP_DAILY, s.BACKUP_KEEP_MONTHLY_YEARS)
    return prune(get_sessionmaker(), get_backup_target(s), today=today, policy=policy)
