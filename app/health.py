"""Health checks of every component (guide §9.1), each bounded by its own timeout.

"queue" means: the Prefect API answers and each of the four work pools has a worker that polled
recently (workers are what drain the queues).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import text

from app.cache import get_redis
from app.db import get_engine
from app.deployments import POOLS
from app.settings import get_settings
from app.storage import get_storage

__all__ = ["check_all", "check_queue"]


def _database() -> str:
    with get_engine().connect() as conn:
        conn.execute(text("SELECT 1"))
    return "ok"


def _redis() -> str:
    get_redis().ping()
    return "ok"


def _storage() -> str:
    get_storage().ping()
    return "ok"


async def check_queue(api_url: str, timeout: float, stale_after: int) -> tuple[str, dict[str, Any]]:
    """'ok' when Prefect answers and every pool has a recently polling worker."""
    detail: dict[str, Any] = {}
    async with httpx.AsyncClient(base_url=api_url.rstrip("/") + "/", timeout=timeout) as client:
        (await client.get("health")).raise_for_status()
        cutoff = datetime.now(UTC) - timedelta(seconds=stale_after)
        responses = await asyncio.gather(
            *(client.post(f"work_pools/{pool}/workers/filter", json={}) for pool in POOLS)
        )
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


async def _bounded(fn: Callable[[], str], timeout: float) -> str:
    try:
        return await asyncio.wait_for(asyncio.to_thread(fn), timeout)
    except TimeoutError:
        return "timeout"
    except Exception as exc:  # noqa: BLE001 - any failure is reported, never raised
        return f"erro: {type(exc).__name__}"


async def check_all() -> dict[str, Any]:
    """Run all checks concurrently; 'status' is 'ok' only when every component is."""
    s = get_settings()
    t = s.HEALTH_CHECK_TIMEOUT_SECONDS

    async def queue() -> str:
        try:
            state, _ = await asyncio.wait_for(
                check_queue(s.PREFECT_API_URL, t, s.WORKER_STALE_SECONDS), t
            )
            return state
        except TimeoutError:
            return "timeout"
        except Exception as exc:  # noqa: BLE001
            return f"erro: {type(exc).__name__}"

    db, rd, st, q = await asyncio.gather(
        _bounded(_database, t), _bounded(_redis, t), _bounded(_storage, t), queue()
    )
    components = {"database": db, "redis": rd, "queue": q, "storage": st}
    failing = [k for k, v in components.items() if v != "ok"]
    return {
        "status": "ok" if not failing else "degraded",
        **components,
        "version": s.APP_VERSION,
        **({"failing": failing} if failing else {}),
    }
