"""`limpeza-de-logs` (guide §7.6): daily cleanup of old operational logs, default pool."""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact

from app.settings import get_settings
from tasks.defaults import flow_defaults
from tasks.maintenance import delete_old_logs


@flow(name="limpeza-de-logs", log_prints=False, **flow_defaults(600))
def cleanup_logs_flow(older_than_days: int | None = None) -> dict[str, int]:
    """Remove logs older than the configured age; never anything under retention."""
    days = older_than_days or get_settings().LOG_RETENTION_DAYS
    removed = delete_old_logs(days)
    get_run_logger().info("Limpeza concluída (mais antigos que %s dias): %s", days, removed)
    create_table_artifact(
        key="limpeza-de-logs",
        table=[{"tabela": k, "removidos": v} for k, v in removed.items()],
        description=f"Registros removidos (mais antigos que {days} dias)",
    )
    return removed
