"""Readiness under load on the real platform: the running API (uvicorn), Prefect server and
workers. 1,000 health requests at concurrency 100 while every component is up: not one 503."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import httpx
import pytest

pytestmark = pytest.mark.e2e


def _wait_ok(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while httpx.get(url, timeout=10).status_code != 200:
        assert time.monotonic() < deadline, httpx.get(url, timeout=10).text
        time.sleep(1)


async def _hammer(url: str, total: int, concurrency: int) -> Counter[int | str]:
    codes: Counter[int | str] = Counter()
    queue: asyncio.Queue[None] = asyncio.Queue()
    for _ in range(total):
        queue.put_nowait(None)
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:

        async def worker() -> None:
            while not queue.empty():
                queue.get_nowait()
                try:
                    try:
                        r = await client.get(url)
                    except httpx.RemoteProtocolError:
                        # a kept-alive connection the server closed as it was reused: an HTTP
                        # client retries an idempotent GET once on a fresh connection
                        r = await client.get(url)
                    codes[r.status_code] += 1
                except httpx.HTTPError as exc:
                    codes[type(exc).__name__] += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return codes


def test_health_holds_under_100_concurrent_requests(platform) -> None:  # type: ignore[no-untyped-def]
    base = f"http://127.0.0.1:{platform.api_port}/api"
    _wait_ok(f"{base}/health")
    codes = asyncio.run(_hammer(f"{base}/health", 1000, 100))
    assert codes == Counter({200: 1000})
    live = asyncio.run(_hammer(f"{base}/live", 300, 100))
    assert live == Counter({200: 300})
