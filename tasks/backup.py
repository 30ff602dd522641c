"""Backup tasks: the daily backup, pruning, restore and the restore drill (thin glue)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from prefect import task

from app.backup import get_backup_target, run_backup
from app.db import get_sessionmaker
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
    from app.backup.retention import Policy, prune

    s = get_settings()
    today = datetime.now(ZoneInfo(s.OFFICE_TIMEZONE)).date()
    policy = Policy(s.BACKUP_KEEP_DAILY, s.BACKUP_KEEP_MONTHLY_YEARS)
    return prune(get_sessionmaker(), get_backup_target(s), today=today, policy=policy)


# A restore is an operator's one-off action: never retried automatically (a half-done restore
# is re-run by the operator after reading its report; re-running inserts nothing twice).
RESTORE_TASK = {**TASK_DEFAULTS, "timeout_seconds": 7200, "retries": 0}


@task(name="restaurar-backup", **RESTORE_TASK)
def restore_task(
    data: str | None,
    empresa: str | None,
    modulo: str | None,
    simulacao: bool,
    sobrescrever: bool,
    banco: str | None,
    actor: str,
) -> dict[str, Any]:
    """Restore by date (new database) or by empresa/module (live database)."""
    from app.backup.restore import restore_date
    from app.backup.rows import restore_rows

    s = get_settings()
    args = (get_sessionmaker(), s, get_backup_target(s), get_storage())
    if empresa is None and modulo is None:
        return restore_date(*args, day=data, database=banco, dry_run=simulacao, actor=actor)
    cnpj = "".join(ch for ch in empresa if ch.isalnum()) if empresa else None
    return restore_rows(
        *args, day=data, cnpj=cnpj, module=modulo, overwrite=sobrescrever, dry_run=simulacao,
        actor=actor,
    )  # fmt: skip


@task(name="verificar-backup", **{**BACKUP_TASK, "retries": 1})
def verify_task(amostra: int = 50) -> dict[str, Any]:
    """Restore drill of the latest backup; alerts the office on failure."""
    from app.backup.verify import verify_backup

    s = get_settings()
    return verify_backup(get_sessionmaker(), s, get_backup_target(s), sample=amostra)
