"""What the Prefect API knows: per pool workers alive, queue lag and late runs; per deployment
the runs that ended Failed or Crashed in the recent window.

Read over Prefect's REST API (the same calls as PrefectHQ's prometheus-prefect-exporter), a
bounded number of requests per refresh: three per pool plus three.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx

from app.deployments import POOLS
from app.settings import get_settings

__all__ = ["FINAL_BAD_STATES", "PrefectSnapshot", "read_prefect"]

FINAL_BAD_STATES = ("FAILED", "CRASHED")
_PAGE = 200
_MAX_PAGES = 10  # at most 2,000 failed runs counted per window: beyond that the alert fires anyway


@dataclass
class PrefectSnapshot:
    """Per pool and per deployment figures (labels: pool, deployment, state)."""

    workers_alive: dict[str, int] = field(default_factory=dict)
    queue_lag_seconds: dict[str, float] = field(default_factory=dict)
    late_runs: dict[str, int] = field(default_factory=dict)
    # (deployment "flow/deployment", state) → runs that ended so in the window
    final_runs: dict[tuple[str, str], int] = field(default_factory=dict)


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _pool_figures(
    client: httpx.Client, pool: str, now: datetime, stale: int
) -> tuple[int, float, int]:
    resp = client.post(f"work_pools/{pool}/workers/filter", json={})
    if resp.status_code == 404:
        return 0, 0.0, 0
    resp.raise_for_status()
    cutoff = now - timedelta(seconds=stale)
    alive = sum(
        1 for w in resp.json() if (t := _when(w.get("last_heartbeat_time"))) and t >= cutoff
    )
    pools = {"work_pools": {"name": {"any_": [pool]}}}
    oldest = client.post(
        "flow_runs/filter",
        json={
            **pools,
            "flow_runs": {
                "state": {"type": {"any_": ["SCHEDULED", "PENDING"]}},
                "expected_start_time": {"before_": now.isoformat()},
            },
            "sort": "EXPECTED_START_TIME_ASC",
            "limit": 1,
        },
    )
    oldest.raise_for_status()
    rows = oldest.json()
    start = _when(rows[0].get("expected_start_time")) if rows else None
    lag = max(0.0, (now - start).total_seconds()) if start else 0.0
    late = client.post(
        "flow_runs/count", json={**pools, "flow_runs": {"state": {"name": {"any_": ["Late"]}}}}
    )
    late.raise_for_status()
    return alive, lag, int(late.json())


def _deployment_names(client: httpx.Client) -> dict[str, str]:
    flows = client.post("flows/filter", json={"limit": _PAGE})
    flows.raise_for_status()
    flow_names = {f["id"]: f["name"] for f in flows.json()}
    deps = client.post("deployments/filter", json={"limit": _PAGE})
    deps.raise_for_status()
    return {d["id"]: f"{flow_names.get(d['flow_id'], '?')}/{d['name']}" for d in deps.json()}


def _final_runs(client: httpx.Client, since: datetime) -> Counter[tuple[str | None, str]]:
    counts: Counter[tuple[str | None, str]] = Counter()
    for page in range(_MAX_PAGES):
        resp = client.post(
            "flow_runs/filter",
            json={
                "flow_runs": {
                    "state": {"type": {"any_": list(FINAL_BAD_STATES)}},
                    "end_time": {"after_": since.isoformat()},
                },
                "sort": "END_TIME_DESC",
                "limit": _PAGE,
                "offset": page * _PAGE,
            },
        )
        resp.raise_for_status()
        rows = resp.json()
        for r in rows:
            counts[(r.get("deployment_id"), (r.get("state_type") or "").upper())] += 1
        if len(rows) < _PAGE:
            break
    return counts


def read_prefect() -> PrefectSnapshot:
    """One snapshot of the Prefect API (raises when it does not answer)."""
    s = get_settings()
    now = datetime.now(UTC)
    snap = PrefectSnapshot()
    timeout = max(2.0, s.HEALTH_CHECK_TIMEOUT_SECONDS)
    with httpx.Client(base_url=s.PREFECT_API_URL.rstrip("/") + "/", timeout=timeout) as client:
        for pool in POOLS:
            alive, lag, late = _pool_figures(client, pool, now, s.WORKER_STALE_SECONDS)
            snap.workers_alive[pool] = alive
            snap.queue_lag_seconds[pool] = lag
            snap.late_runs[pool] = late
        names = _deployment_names(client)
        # every known deployment has a 0 series: an alert on it then resolves instead of vanishing
        for name in names.values():
            for state in FINAL_BAD_STATES:
                snap.final_runs[(name, state)] = 0
        since = now - timedelta(minutes=s.METRICS_WINDOW_MINUTES)
        for (dep_id, state), n in _final_runs(client, since).items():
            key = (names.get(dep_id or "", "(sem implantação)"), state)
            snap.final_runs[key] = snap.final_runs.get(key, 0) + n
    return snap
