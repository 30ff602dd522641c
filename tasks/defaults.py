"""The guide's job defaults (§6.2): 3 retries with backoff and jitter, 120 s timeout; and the
office day a run acts for."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from app.platform.office_settings import office_today

TASK_TIMEOUT_SECONDS = 120
RETRY_DELAYS = [5, 30, 120]  # backoff; jitter spreads retries of many runs

TASK_DEFAULTS: dict[str, Any] = {
    "retries": 3,
    "retry_delay_seconds": RETRY_DELAYS,
    "retry_jitter_factor": 0.5,
    "timeout_seconds": TASK_TIMEOUT_SECONDS,
}


def _report_failure(flow: Any, flow_run: Any, state: Any) -> None:
    """A run that ended Failed or Crashed goes to Sentry (when SENTRY_DSN is set), scrubbed."""
    from app.monitoring.errors import capture_flow_failure

    capture_flow_failure(flow.name, flow_run, state)


def _configure_logs(flow: Any, flow_run: Any, state: Any) -> None:
    """JSON log lines of the run, shipped as LOG_CHANNEL says (app/monitoring/logs.py)."""
    from app.monitoring.logs import configure_logging

    configure_logging("flow")


def flow_defaults(timeout_seconds: int) -> dict[str, Any]:
    """Flow-level retries/timeouts; bulk flows get a timeout sized for their batch work.
    Failures (after the retries) and crashes are reported to Sentry."""
    return {
        "retries": 3,
        "retry_delay_seconds": 60,
        "timeout_seconds": timeout_seconds,
        "on_running": [_configure_logs],
        "on_failure": [_report_failure],
        "on_crashed": [_report_failure],
    }


def run_day(hoje: str | date | None = None) -> date:
    """The office date a flow run acts for: ``hoje`` (backfill, tests), else the run's scheduled
    time (a run that starts late after downtime still acts as of its own day), else now."""
    if isinstance(hoje, date):
        return hoje
    if hoje:
        return date.fromisoformat(hoje)
    from prefect.runtime import flow_run

    when = flow_run.scheduled_start_time
    return office_today(when if isinstance(when, datetime) else None)
