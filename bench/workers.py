"""Several Prefect workers on one pool: exactly-once execution, spread, concurrency and throughput.

Run: ``.venv/bin/python bench/workers.py [--runs 500] [--pool default] [--limit 3]
[--seconds 1.0] [--workers 2]``

Starts the platform the way ``make dev`` does (``app.devstack.DevStack``: Prefect server on
PostgreSQL, the pools and every deployment, one worker per pool) in its own databases
(``contab_bench_workers`` and ``contab_bench_workers_prefect``, re-created), replaces the pool's
worker by ``--workers`` process workers with distinct names whose own ``--limit`` slots add up
to the pool's concurrency limit ``--limit`` (which the pool is set to), and triggers ``--runs`` runs of the pool's smoke deployment (``teste-de-fumaca``, each
run holding its slot ``--seconds``). Then it prints: runs per final state and per worker (from the
workers' own "submitting flow run" lines: a run submitted twice would show), the highest number
of runs RUNNING at once (from the runs' start/end times) against the limit, the throughput
(runs/s from the first start to the last end), the start latency (expected start → start, p50/p95)
and the CPU seconds per run of the workers' process trees (each flow run is a child process of
its worker, reaped by it: /proc utime+stime+cutime+cstime). Everything started is stopped at the
end. The functions are shared with ``tests/e2e/test_multi_worker.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

DB = "contab_bench_workers"
SUBMITTING = "submitting flow run '"
ABORTED = "Aborted submission of flow run '"


# ---------------------------------------------------------------- Prefect calls


def set_pool_limit(pool: str, limit: int | None) -> None:
    """Set the work pool's concurrency limit (None: no limit)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolUpdate

    async def go() -> None:
        async with get_client() as client:
            await client.update_work_pool(pool, WorkPoolUpdate(concurrency_limit=limit))

    asyncio.run(go())


def online_workers(pool: str) -> set[str]:
    """Names of the workers that polled the pool recently."""
    from prefect.client.orchestration import get_client

    async def go() -> set[str]:
        async with get_client() as client:
            workers = await client.read_workers_for_work_pool(pool)
        return {w.name for w in workers if str(getattr(w, "status", "")).endswith("ONLINE")}

    return asyncio.run(go())


def start_worker(stack: Any, pool: str, name: str, limit: int | None = None) -> Any:
    """One more process worker on ``pool`` named ``name`` (its log: ``worker-<name>.log``),
    with ``limit`` run slots of its own (``--limit``) when given."""
    from app.localservices import venv_bin

    slots = ["--limit", str(limit)] if limit is not None else []
    return stack.supervisor.start(
        f"worker-{name}",
        [venv_bin("prefect"), "worker", "start", "--pool", pool, "--type", "process",
         "--name", name, *slots],
        cwd=ROOT,
        signals_to_stop=2,
    )  # fmt: skip


def worker_shares(limit: int, workers: int) -> list[int]:
    """Split a pool's concurrency limit over its workers: each gets ≥ 1 slot, the sum is the limit.

    Prefect applies a work pool's limit when a worker polls, so two workers polling together can
    each take the last free slot (measured: 5 running with a limit of 3). A worker's own
    ``--limit`` is exact, so workers whose limits add up to the pool's never exceed it.
    """
    if not 1 <= workers <= limit:
        raise ValueError(f"{workers} workers cannot share a pool limit of {limit}")
    return [limit // workers + (1 if k < limit % workers else 0) for k in range(workers)]


def replace_pool_workers(
    stack: Any, pool: str, limit: int, workers: int
) -> tuple[Any, dict[str, Path]]:
    """Stop the stack's worker on ``pool`` and start ``workers`` named workers sharing ``limit``.

    Returns the stopped worker's record (for :func:`restore_pool_worker`) and name → log path.
    """
    original = next(mp for mp in stack.supervisor.processes if mp.name == f"worker-{pool}")
    original.stop(timeout=60)  # kept in the supervisor's list: restart() starts it again
    logs: dict[str, Path] = {}
    for k, share in enumerate(worker_shares(limit, workers), start=1):
        name = f"dev-{pool}-{k}"
        start_worker(stack, pool, name, share)
        logs[name] = stack.supervisor.log_dir / f"worker-{name}.log"
    return original, logs


def restore_pool_worker(stack: Any, pool: str, original: Any) -> None:
    """Stop the workers :func:`replace_pool_workers` started and start the original again."""
    for mp in [p for p in stack.supervisor.processes if p.name.startswith(f"worker-dev-{pool}-")]:
        mp.stop(timeout=60)
        stack.supervisor.processes.remove(mp)
    stack.supervisor.restart(original)


def wait_online(pool: str, names: Iterable[str], timeout: float = 120) -> None:
    """Until every named worker is online on the pool (RuntimeError after timeout)."""
    wanted = set(names)
    deadline = time.monotonic() + timeout
    while not wanted <= online_workers(pool):
        if time.monotonic() > deadline:
            raise RuntimeError(f"workers {wanted - online_workers(pool)} not online on {pool}")
        time.sleep(1)


def trigger(deployment: str, n: int, parameters: dict[str, Any]) -> list[UUID]:
    """Create ``n`` runs of ``deployment`` (scheduled now) and return their ids."""
    from prefect.deployments import run_deployment

    async def go() -> list[UUID]:
        ids: list[UUID] = []
        for start in range(0, n, 5):  # a few at a time: a saturated server times out
            batch = [
                run_deployment(deployment, parameters=parameters, timeout=0)  # type: ignore[misc]
                for _ in range(min(5, n - start))
            ]
            ids += [fr.id for fr in await asyncio.gather(*batch)]
        return ids

    return asyncio.run(go())


def wait_final(ids: list[UUID], timeout: float) -> list[Any]:
    """The runs once all are final, or as they are at the timeout."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    async def read() -> list[Any]:
        async with get_client() as client:
            out: list[Any] = []
            for start in range(0, len(ids), 200):
                chunk = ids[start : start + 200]
                out += await client.read_flow_runs(
                    flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=chunk)), limit=200
                )
            return out

    deadline = time.monotonic() + timeout
    while True:
        runs = asyncio.run(read())
        done = all(r.state is not None and r.state.is_final() for r in runs)
        if (done and len(runs) == len(ids)) or time.monotonic() > deadline:
            return runs
        time.sleep(1)


# ---------------------------------------------------------------- analysis


def _log_runs(log: Path, marker: str) -> list[str]:
    """Flow run ids of the log lines containing ``marker`` (followed by the quoted id)."""
    found = []
    for line in log.read_text(errors="replace").splitlines():
        pos = line.find(marker)
        if pos >= 0:
            found.append(line[pos + len(marker) :].split("'", 1)[0])
    return found


def submissions(logs: dict[str, Path], ids: Iterable[UUID]) -> dict[UUID, list[str]]:
    """Which worker(s) submitted each run, from the workers' logs. Two workers may both pick a
    run up; the server lets one move it to PENDING and tells the other to abort ("Aborted
    submission"): such an aborted pick-up is not a submission."""
    wanted = {str(i): i for i in ids}
    out: dict[UUID, list[str]] = {i: [] for i in wanted.values()}
    for worker, log in logs.items():
        aborted = Counter(_log_runs(log, ABORTED))
        for run_id in _log_runs(log, SUBMITTING):
            if run_id not in wanted:
                continue
            if aborted[run_id]:
                aborted[run_id] -= 1
                continue
            out[wanted[run_id]].append(worker)
    return out


def contended(logs: dict[str, Path], ids: Iterable[UUID]) -> int:
    """Pick-ups the server refused because another worker had the run (exactly-once fencing)."""
    wanted = {str(i) for i in ids}
    return sum(1 for log in logs.values() for r in _log_runs(log, ABORTED) if r in wanted)


def max_running(intervals: Iterable[tuple[datetime, datetime]]) -> int:
    """The most intervals open at one instant (an end and a start at the same instant: no overlap)."""
    events = sorted(
        [(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals],
        key=lambda e: (e[0], e[1]),
    )
    current = peak = 0
    for _, delta in events:
        current += delta
        peak = max(peak, current)
    return peak


def cpu_seconds(pid: int) -> float:
    """CPU time of a process and its reaped children (utime+stime+cutime+cstime)."""
    import os

    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- the benchmark


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=500)
    p.add_argument("--pool", default="default")
    p.add_argument("--limit", type=int, default=3)
    p.add_argument("--seconds", type=float, default=1.0)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--timeout", type=float, default=3600)
    args = p.parse_args()
    # a bench stopped with SIGTERM (kill, a CI timeout) stops what it started, as on Ctrl-C
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    with tempfile.TemporaryDirectory(prefix="contab-bench-workers-") as tmpdir:
        tmp = Path(tmpdir)
        from benchenv import setup

        from app.localservices import create_database, free_port

        env = setup(DB, tmp)
        admin = f"postgresql://postgres@127.0.0.1:{env['DB_PORT']}/postgres"
        create_database(admin, f"{DB}_prefect", drop=True)
        from app.deployments import smoke_deployment
        from app.devstack import DevStack
        from app.prefect_ops import pool_definitions
        from app.settings import get_settings

        stack = DevStack(
            settings=get_settings(),
            var_dir=tmp / "var",
            api_port=free_port(),
            prefect_port=free_port(),
            mail_http_port=free_port(),
            prefect_db=f"{DB}_prefect",
            start_api=False,
            env={"PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false"},
        )
        stack.up(log=lambda *a: print("  " + " ".join(map(str, a)), flush=True))
        try:
            set_pool_limit(args.pool, args.limit)
            _, names = replace_pool_workers(stack, args.pool, args.limit, args.workers)
            wait_online(args.pool, names)
            pids = [
                mp.proc.pid
                for mp in stack.supervisor.processes
                if mp.name.startswith(f"worker-dev-{args.pool}-")
            ]
            cpu0 = sum(cpu_seconds(pid) for pid in pids)
            t0 = time.monotonic()
            ids = trigger(
                smoke_deployment(args.pool),
                args.runs,
                {"pool": args.pool, "segundos": args.seconds},
            )
            print(f"{len(ids)} runs created in {time.monotonic() - t0:.1f} s", flush=True)
            runs = wait_final(ids, args.timeout)
            time.sleep(2)  # the workers reap the last children
            cpu = sum(cpu_seconds(pid) for pid in pids) - cpu0
            report(args, runs, submissions(names, ids), cpu, len(pids), contended(names, ids))
        finally:
            set_pool_limit(args.pool, int(pool_definitions()[args.pool]["concurrency_limit"]))
            stack.down()
    return 0


def report(
    args: argparse.Namespace,
    runs: list[Any],
    subs: dict[UUID, list[str]],
    cpu: float,
    n: int,
    refused: int,
) -> None:
    states = Counter(r.state.name if r.state else "?" for r in runs)
    per_worker = Counter(w for ws in subs.values() for w in ws)
    twice = sum(1 for ws in subs.values() if len(ws) > 1)
    done = [r for r in runs if r.start_time and r.end_time]
    peak = max_running([(r.start_time, r.end_time) for r in done])
    print(f"\nruns: {len(runs)}  states: {dict(states)}  run_count>1: "
          f"{sum(1 for r in runs if r.run_count > 1)}")  # fmt: skip
    print(f"per worker: {dict(per_worker)}  submitted twice: {twice}  "
          f"never submitted: {sum(1 for ws in subs.values() if not ws)}  "
          f"pick-ups refused by the server (other worker first): {refused}")  # fmt: skip
    print(f"max RUNNING at once: {peak} (pool limit {args.limit})")
    if done:
        first = min(r.start_time for r in done)
        last = max(r.end_time for r in done)
        span = (last - first).total_seconds()
        lat = sorted(
            (r.start_time - r.expected_start_time).total_seconds()
            for r in done
            if r.expected_start_time
        )
        busy = sum((r.end_time - r.start_time).total_seconds() for r in done)
        print(f"throughput: {len(done) / span:.2f} runs/s over {span:.0f} s "
              f"(slot occupancy {busy / (span * args.limit):.0%})")  # fmt: skip
        if lat:
            p95 = lat[int(0.95 * (len(lat) - 1))]
            print(f"start latency: p50 {statistics.median(lat):.1f} s, p95 {p95:.1f} s")
        print(f"CPU of the {n} workers of the pool and their flow runs: {cpu:.0f} s, "
              f"{cpu / len(done):.2f} s per run")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
