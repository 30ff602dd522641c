"""Two workers on one pool, as on two machines: every run once, both used, the pool limit held.

The session platform runs one worker per pool (``dev-<pool>``); this test replaces it by two
process workers with distinct names — nothing is shared between them but the Prefect API,
PostgreSQL and Redis, exactly as with workers on separate hosts — whose own ``--limit`` slots add
up to the pool's concurrency limit (the way docker/entrypoint.sh's ``WORKER_LIMIT`` is meant to
be set: Prefect applies the pool's limit when workers poll, and two workers polling together
overshot it, 5 running with a limit of 3), and triggers ``RUNS`` runs of the pool's smoke
deployment, each holding its slot a moment.
The larger measurement (500 runs, throughput, CPU per run) is ``bench/workers.py``, which
provides the helpers used here.
"""

from __future__ import annotations

from typing import Any

import pytest

from app.deployments import smoke_deployment
from app.prefect_ops import pool_definitions
from bench.workers import (
    contended,
    cpu_seconds,
    max_running,
    replace_pool_workers,
    restore_pool_worker,
    set_pool_limit,
    submissions,
    trigger,
    wait_final,
    wait_online,
)

# Upper bounds only: a quiet 2-core machine needs a few minutes; one saturated by other jobs
# starts each flow-run process in minutes, not seconds.
pytestmark = [pytest.mark.e2e, pytest.mark.load, pytest.mark.timeout(3600)]

POOL = "default"
RUNS = 40  # bench/workers.py runs 500; 40 keeps this test a few minutes on 2 shared cores
LIMIT = 3
HOLD_SECONDS = 1.0


def test_two_workers_share_a_pool_exactly_once_within_its_concurrency_limit(
    platform: Any,
) -> None:
    set_pool_limit(POOL, LIMIT)
    original, logs = replace_pool_workers(platform, POOL, LIMIT, 2)
    try:
        wait_online(POOL, logs)
        pids = [
            mp.proc.pid
            for mp in platform.supervisor.processes
            if mp.name.startswith(f"worker-dev-{POOL}-")
        ]
        cpu0 = sum(cpu_seconds(pid) for pid in pids)
        ids = trigger(smoke_deployment(POOL), RUNS, {"pool": POOL, "segundos": HOLD_SECONDS})
        runs = wait_final(ids, timeout=2400)
        cpu = sum(cpu_seconds(pid) for pid in pids) - cpu0
    finally:
        set_pool_limit(POOL, int(pool_definitions()[POOL]["concurrency_limit"]))
        restore_pool_worker(platform, POOL, original)

    assert len(runs) == RUNS
    assert {r.state.name for r in runs} == {"Completed"}, [r.state.name for r in runs]
    assert {r.run_count for r in runs} == {1}  # no run executed twice
    by_run = submissions(logs, ids)
    assert all(len(workers) == 1 for workers in by_run.values()), by_run  # submitted once
    per_worker = {name: sum(ws == [name] for ws in by_run.values()) for name in logs}
    assert all(count > 0 for count in per_worker.values()), per_worker  # both took runs
    peak = max_running([(r.start_time, r.end_time) for r in runs])
    span = (max(r.end_time for r in runs) - min(r.start_time for r in runs)).total_seconds()
    print(  # figures for docs/multi-host.md (shown with -s; never asserted)
        f"\n{RUNS} runs, limit {LIMIT}: per worker {per_worker}, refused pick-ups "
        f"{contended(logs, ids)}, peak {peak}, {RUNS / span:.2f} runs/s over {span:.0f} s, "
        f"CPU {cpu / RUNS:.2f} s/run"
    )
    assert 1 <= peak <= LIMIT, f"{peak} runs RUNNING at once, pool limit {LIMIT}"
