"""`backup-diario` (guide §11): daily database dump + files manifest, default pool."""

from __future__ import annotations

from prefect import flow, get_run_logger

from tasks.backup import backup_task
from tasks.defaults import flow_defaults


@flow(name="backup-diario", **flow_defaults(3700))
def backup_flow(force: bool = False) -> dict[str, object]:
    """One backup per day (re-runs the same day do nothing unless force=True)."""
    result = backup_task(force)
    get_run_logger().info("Backup: %s", result)
    return result
