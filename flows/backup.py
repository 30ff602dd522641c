"""`backup-diario` (guide §11): database, stored objects and logs to the backup target; then
the retention policy. Default pool; once per day (a re-run the same day does nothing)."""

from __future__ import annotations

from prefect import flow, get_run_logger

from tasks.backup import backup_task, prune_task
from tasks.defaults import flow_defaults


@flow(name="backup-diario", **flow_defaults(7500))
def backup_flow(force: bool = False) -> dict[str, object]:
    """One backup per day (force=True backs up again), then prune what the policy lets go."""
    result = backup_task(force)
    get_run_logger().info("Backup: %s", result)
    pruned = prune_task()
    get_run_logger().info("Retenção: %s", pruned)
    return {**result, "retencao": {"removidos": pruned["removidos"]}}
