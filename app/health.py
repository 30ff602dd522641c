"""Health checks of every component (guide §9.1): shared, cached, each bounded by its timeout.

"queue" means: the Prefect API answers and each of the four work pools has a worker that polled
recently (workers are what drain the queues).

Under load a health endpoint must not become the load: every component has at most one probe in
flight, and its result is shared by every request for ``HEALTH_CACHE_SECONDS``. After that a
request still gets the previous result for up to one more period while a single refresh runs in
the background, so readiness probes answer in microseconds and never queue behind a slow check.
Past twice the period the result is too old to serve and the request waits for the refresh
(bounded by ``HEALTH_CHECK_TIMEOUT_SECONDS``). A real failure therefore shows within
``HEALTH_CACHE_SECONDS`` + the timeout (2 s + 1.5 s by default) while requests keep coming.
The database probe uses the side pool (:func:`app.db.get_side_engine`), never the requests' pool:
a pool exhausted by busy requests is not a database that is down.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import httpx
from sqlalchemy import text

from app.cache import get_redis
from app.db import get_side_engine
from app.deployments import POOLS
from app.settings import get_settings
from app.storage import get_storage

__all__ = ["check_all", "check_queue", "probe_counts", "reset_health_cache"]

COMPONENTS = ("database", "redis", "queue", "storage")


def _database() -> str:
    with get_side_engine().connect() as conn:
        conn.execute(text("SELECT 1"))
    return "ok"


def _redis() -> str:
    get_redis().ping()
    return "ok"


def _storage() -> str:
    get_storage().ping()
    return "ok"


@lru_cache(maxsize=1)
def _tls() -> ssl.SSLContext:
    """One TLS context per process: building one (loading the CA bundle) cost ~17 ms of CPU per
    queue probe, i.e. every ``HEALTH_CACHE_SECONDS``, holding the GIL away from the requests."""
    return httpx.create_ssl_context()


def _queue() -> str:
    s = get_settings()
    state, _ = asyncio.run(
        check_queue(s.PREFECT_API_URL, s.HEALTH_CHECK_TIMEOUT_SECONDS, s.WORKER_STALE_SECONDS)
    )
    return state


async def check_queue(api_url: str, timeout: float, stale_after: int) -> tuple[str, dict[str, Any]]:
    """'ok' when Prefect answers and every pool has a recently polling worker.

    The five calls run concurrently (one round-trip of the budget, not five in a row)."""
    detail: dict[str, Any] = {}
    async with httpx.AsyncClient(
        base_url=api_url.rstrip("/") + "/", timeout=timeout, verify=_tls()
    ) as client:
        cutoff = datetime.now(UTC) - timedelta(seconds=stale_after)
        health, *responses = await asyncio.gather(
            client.get("health"),
            *(client.post(f"work_pools/{pool}/workers/filter", json={}) for pool in POOLS),
        )
    health.raise_for_status()
    missing = []
    for pool, resp in zip(POOLS, responses, strict=True):
        if resp.status_code == 404:
            missing.append(pool)
            detail[pool] = "pool inexistente"
            continue
        resp.raise_for_status()
        alive = [
            w
            for w in resp.json()
            if w.get("last_heartbeat_time")
            and datetime.fromisoformat(w["last_heartbeat_time"]) >= cutoff
        ]
        detail[pool] = len(alive)
        if not alive:
            missing.append(pool)
    if missing:
        return "sem worker: " + ", ".join(missing), detail
    return "ok", detail


@dataclass
class _Probe:
    """One component's last result and its single in-flight refresh."""

    fn: Callable[[], str]
    result: str | None = None
    at: float = 0.0  # time.monotonic() of the result
    inflight: Future[str] | None = None
    runs: int = 0


@dataclass
class _Cache:
    probes: dict[str, _Probe]
    lock: threading.Lock = field(default_factory=threading.Lock)
    # One refresh per component at a time, each waiting on its probe in the second pool; a probe
    # may outlive its timeout (every client below has its own socket timeout, so it ends soon
    # after), hence the room there.
    pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(len(COMPONENTS), "health")
    )
    probes_pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(4 * len(COMPONENTS), "health-probe")
    )

    def _refresh(self, probe: _Probe, timeout: float) -> str:
        inner = self.probes_pool.submit(probe.fn)
        try:
            result = inner.result(timeout)
        except FutureTimeout:
            result = "timeout"
        except Exception as exc:  # noqa: BLE001 - any failure is reported, never raised
            result = f"erro: {type(exc).__name__}"
        with self.lock:
            probe.result, probe.at, probe.inflight = result, time.monotonic(), None
        return result

    def start(self, name: str, ttl: float, timeout: float) -> str | Future[str]:
        """The shared result when it may be served, else the refresh to wait for."""
        probe = self.probes[name]
        with self.lock:
            age = time.monotonic() - probe.at
            if probe.result is not None and age < ttl:
                return probe.result
            if probe.inflight is None:
                probe.runs += 1
                probe.inflight = self.pool.submit(self._refresh, probe, timeout)
            if probe.result is not None and age < 2 * ttl:
                return probe.result  # served while the one refresh runs
            return probe.inflight


@lru_cache(maxsize=1)
def _cache() -> _Cache:
    return _Cache(
        {
            "database": _Probe(_database),
            "redis": _Probe(_redis),
            "queue": _Probe(_queue),
            "storage": _Probe(_storage),
        }
    )


def reset_health_cache() -> None:
    """Forget every shared result (tests that repoint a component)."""
    if _cache.cache_info().currsize:
        for pool in (_cache().pool, _cache().probes_pool):
            pool.shutdown(wait=False, cancel_futures=True)
    _cache.cache_clear()


def probe_counts() -> dict[str, int]:
    """How many probes each component has run in this process (for tests and metrics)."""
    cache = _cache()
    with cache.lock:
        return {name: p.runs for name, p in cache.probes.items()}


async def _wait(got: Future[str], timeout: float) -> str:
    try:
        # the refresh bounds itself by `timeout`; the margin covers thread scheduling
        return await asyncio.wait_for(asyncio.wrap_future(got), timeout + 1.0)
    except TimeoutError:
        return "timeout"


# What the API cannot answer without: a readiness probe fails (503) only on these. Redis (wake-ups,
# bookkeeping, locks) and the queue (Prefect + workers) are reported but do not take a replica
# out of service: uploads are still accepted and recorded without them and processed when they
# come back, so a 503 there would only turn a slow orchestrator into an outage of the API.
REQUIRED = ("database", "storage")


def is_ready(body: dict[str, Any]) -> bool:
    """False when :func:`check_all` found a :data:`REQUIRED` component failing."""
    return not any(k in REQUIRED for k in body.get("failing", ()))


async def check_all() -> dict[str, Any]:
    """Every component's shared result; 'status' is 'ok' only when every component is."""
    s = get_settings()
    ttl, timeout = s.HEALTH_CACHE_SECONDS, s.HEALTH_CHECK_TIMEOUT_SECONDS
    cache = _cache()
    # Every refresh due is started before waiting on any (they run concurrently, so waiting on
    # them one after the other costs the slowest); a cached answer costs no task and no thread.
    got = [cache.start(name, ttl, timeout) for name in COMPONENTS]
    components = {
        name: g if isinstance(g, str) else await _wait(g, timeout)
        for name, g in zip(COMPONENTS, got, strict=True)
    }
    failing = [k for k, v in components.items() if v != "ok"]
    return {
        "status": "ok" if not failing else "degraded",
        **components,
        "version": s.APP_VERSION,
        **({"failing": failing} if failing else {}),
    }
