"""Overhead of the monitoring middleware on GET /api/live at concurrency 10.

Two uvicorn processes serve the same app, one with the metrics middleware (latency histogram +
X-Request-ID) and one without it; rounds alternate between them (A, B, A, B, …) so machine load
drifts hit both alike. Prints requests/s and latency percentiles of each and the ratio.

    .venv/bin/python bench/monitoring.py [--requests 3000] [--rounds 4] [--concurrency 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def instrumented_app():  # type: ignore[no-untyped-def]
    """The app as served (uvicorn --factory)."""
    from app.api.main import create_app

    return create_app()


def bare_app():  # type: ignore[no-untyped-def]
    """The same app without the metrics middleware (removed before the stack is built)."""
    from app.api.main import create_app
    from app.monitoring.http import MetricsMiddleware

    app = create_app()
    app.user_middleware = [m for m in app.user_middleware if m.cls is not MetricsMiddleware]
    return app


def _serve(factory: str, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "APP_ENV": "dev", "LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", f"bench.monitoring:{factory}",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
         "--no-access-log"],
        cwd=ROOT, env=env,
    )  # fmt: skip


def _wait(url: str) -> None:
    for _ in range(300):
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} não respondeu")


async def _load(url: str, total: int, concurrency: int) -> tuple[float, list[float]]:
    latencies: list[float] = []
    left = total

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal left
        while left > 0:
            left -= 1
            t = time.perf_counter()
            resp = await client.get(url)
            latencies.append(time.perf_counter() - t)
            assert resp.status_code == 200

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        start = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        return time.perf_counter() - start, latencies


def _pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--concurrency", type=int, default=10)
    args = ap.parse_args()
    from app.localservices import free_port

    ports = {"com middleware": free_port(), "sem middleware": free_port()}
    procs = [
        _serve("instrumented_app", ports["com middleware"]),
        _serve("bare_app", ports["sem middleware"]),
    ]
    try:
        for port in ports.values():
            _wait(f"http://127.0.0.1:{port}/api/live")
        results: dict[str, tuple[float, list[float]]] = {k: (0.0, []) for k in ports}
        for port in ports.values():  # warm-up
            asyncio.run(_load(f"http://127.0.0.1:{port}/api/live", 300, args.concurrency))
        for r in range(args.rounds):
            order = list(ports.items()) if r % 2 == 0 else list(reversed(ports.items()))
            for name, port in order:
                url = f"http://127.0.0.1:{port}/api/live"
                secs, lats = asyncio.run(_load(url, args.requests, args.concurrency))
                total, acc = results[name]
                results[name] = (total + secs, acc + lats)
        n = args.requests * args.rounds
        print(f"GET /api/live, {n} requisições por variante, concorrência {args.concurrency}")
        rps = {}
        for name, (secs, lats) in results.items():
            rps[name] = n / secs
            print(f"  {name:15s} {rps[name]:8.0f} req/s  p50 {_pct(lats, 50):6.2f} ms"
                  f"  p95 {_pct(lats, 95):6.2f} ms  p99 {_pct(lats, 99):6.2f} ms")  # fmt: skip
        ratio = rps["sem middleware"] / rps["com middleware"]
        print(f"custo da instrumentação: {100 * (ratio - 1):+.1f}% (razão de vazão {ratio:.3f})")
    finally:
        for p in procs:
            p.terminate()
            p.wait(10)


if __name__ == "__main__":
    main()
