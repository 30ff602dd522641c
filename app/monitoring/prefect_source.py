"""What the Prefect API knows: per pool workers alive, queue lag and late runs; per deployment
the runs that ended Failed or Crashed in the recent window.

Read over Prefect's REST API (the same calls as PrefectHQ's prometheus-prefect-exporter), a
bounded number of requests per refresh: three per pool plus three, sent concurrently.
"""

from __future__ import annotations

import asyncio
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


async def _pool_figures(
    client: httpx.AsyncClient, pool: str, now: datetime, stale: int
) -> tuple[int, float, int]:
    pools = {"work_pools": {"name": {"any_": [pool]}}}
    workers, oldest, late = await asyncio.gather(
        client.post(f"work_pools/{pool}/workers/filter", json={}),
        client.post(
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
        ),
        client.post(
            "flow_runs/count", json={**pools, "flow_runs": {"state": {"name": {"any_": ["Late"]}}}}
        ),
    )
    if workers.status_code == 404:  # the pool does not exist (yet) on this server
        return 0, 0.0, 0
    for resp in (workers, oldest, late):
        resp.raise_for_status()
    cutoff = now - timedelta(seconds=stale)
    alive = sum(
        1 for w in workers.json() if (t := _when(w.get("last_heartbeat_time"))) and t >= cutoff
    )
    rows = oldest.json()
    start = _when(rows[0].get("expected_start_time")) if rows else None
    lag = max(0.0, (now - start).total_seconds()) if start else 0.0
    return alive, lag, int(late.json())


async def _deployment_names(client: httpx.AsyncClient) -> dict[str, str]:
    flows, deps = await asyncio.gather(
        client.post("flows/filter", json={"limit": _PAGE}),
        client.post("deployments/filter", json={"limit": _PAGE}),
    )
    flows.raise_for_status()
    deps.raise_for_status()
    flow_names = {f["id"]: f["name"] for f in flows.json()}
    return {d["id"]: f"{flow_names.get(d['flow_id'], '?')}/{d['name']}" for d in deps.json()}


async def _final_runs(
    client: httpx.AsyncClient, since: datetime
) -> Counter[tuple[str | None, str]]:
    counts: Counter[tuple[str | None, str]] = Counter()
    for page in range(_MAX_PAGES):
        resp = await client.post(
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


async def _read(now: datetime) -> PrefectSnapshot:
    s = get_settings()
    snap = PrefectSnapshot()
    # A refresh is two rounds of concurrent requests, not 15 in a row: on a loaded host the
    # sequential version outlasted Prometheus' scrape timeout. Its own timeout is above the
    # health probes' (a scrape may wait longer than a load balancer's health check).
    timeout = max(5.0, s.HEALTH_CHECK_TIMEOUT_SECONDS)
    base = s.PREFECT_API_URL.rstrip("/") + "/"
    async with httpx.AsyncClient(base_url=base, timeout=timeout) as client:
        figures = await asyncio.gather(
            *(_pool_figures(client, pool, now, s.WORKER_STALE_SECONDS) for pool in POOLS)
        )
        since = now - timedelta(minutes=s.METRICS_WINDOW_MINUTES)
        names, finals = await asyncio.gather(_deployment_names(client), _final_runs(client, since))
    for pool, (alive, lag, late) in zip(POOLS, figures, strict=True):
        snap.workers_alive[pool] = alive
        snap.queue_lag_seconds[pool] = lag
        snap.late_runs[pool] = late
    # every known deployment has a 0 series: an alert on it then resolves instead of vanishing
    for name in names.values():
        for state in FINAL_BAD_STATES:
            snap.final_runs[(name, state)] = 0
    for (dep_id, state), n in finals.items():
        key = (names.get(dep_id or "", "(sem implantação)"), state)
        snap.final_runs[key] = snap.final_runs.get(key, 0) + n
    return snap


def read_prefect() -> PrefectSnapshot:
    """One snapshot of the Prefect API (raises when it does not answer). Called from a worker
    thread of the exporter (or a plain sync caller): it runs its own event loop."""
    return asyncio.run(_read(datetime.now(UTC)))
