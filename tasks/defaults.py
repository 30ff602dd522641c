"""The guide's job defaults (§6.2): 3 retries with backoff and jitter, 120 s timeout."""

from __future__ import annotations

from typing import Any

TASK_TIMEOUT_SECONDS = 120
RETRY_DELAYS = [5, 30, 120]  # backoff; jitter spreads retries of many runs

TASK_DEFAULTS: dict[str, Any] = {
    "retries": 3,
    "retry_delay_seconds": RETRY_DELAYS,
    "retry_jitter_factor": 0.5,
    "timeout_seconds": TASK_TIMEOUT_SECONDS,
}


def flow_defaults(timeout_seconds: int) -> dict[str, Any]:
    """Flow-level retries/timeouts; bulk flows get a timeout sized for their batch work."""
    return {"retries": 3, "retry_delay_seconds": 60, "timeout_seconds": timeout_seconds}
