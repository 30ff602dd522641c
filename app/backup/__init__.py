"""Backup & recovery (guide §11): daily backups to a separate target, retention, restore, checks.

Modules: ``target`` (the backup storage and its layout), ``pgtools`` (pg_dump/pg_restore,
scratch databases), ``run`` (the daily backup), ``logs`` (essential logs), ``retention``
(policy + pruning), ``restore`` / ``rows`` (restore by date, empresa, module), ``verify``
(restore drills). Runbook: docs/backup.md.
"""

from __future__ import annotations

from app.backup.pgtools import pg_dump_binary
from app.backup.run import run_backup
from app.backup.target import BackupTarget, get_backup_target

__all__ = ["BackupTarget", "get_backup_target", "pg_dump_binary", "run_backup"]
