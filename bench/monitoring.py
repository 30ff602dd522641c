"""Overhead of the monitoring middleware on GET /api/live at concurrency 10.

Two uvicorn processes serve the same app, one with the metrics middleware (latency histogram +
X-Request-ID) and one without it; rounds alternate between them (A, B, B, A, …) so machine load
drifts hit both alike. Prints, for each, requests/s, latency percentiles and the server process's
CPU time per request (from /proc: the client shares the machine, so CPU per request is the
figure least disturbed by load), and the cost ratios. The whole run stays within --budget
seconds (170): a new pair of rounds (A B, B A) starts only when the last pair's duration still
fits; the first pair always runs.

    .venv/bin/python bench/monitoring.py [--requests 1000] [--rounds 6] [--concurrency 10]
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


def _wait(url: str, proc: subprocess.Popen[bytes], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout  # importing the app takes long on a loaded host
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"o servidor de {url} terminou ({proc.returncode})")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} não respondeu em {timeout:.0f} s")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process so far (/proc/PID/stat fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--concurrency", type=int, default=10)
    ap.add_argument("--budget", type=float, default=170, help="seconds for the whole run")
    args = ap.parse_args()
    began = time.monotonic()
    from app.localservices import free_port

    on, off = "com middleware", "sem middleware"
    ports = {on: free_port(), off: free_port()}
    procs = {on: _serve("instrumented_app", ports[on]), off: _serve("bare_app", ports[off])}
    try:
        for name, port in ports.items():
            _wait(f"http://127.0.0.1:{port}/api/live", procs[name])
        secs = dict.fromkeys(ports, 0.0)
        cpu = dict.fromkeys(ports, 0.0)
        lats: dict[str, list[float]] = {k: [] for k in ports}
        for port in ports.values():  # warm-up
            asyncio.run(_load(f"http://127.0.0.1:{port}/api/live", 300, args.concurrency))
        rounds = 0
        pair_started = time.monotonic()
        last_pair = 0.0
        for r in range(args.rounds):
            if r % 2 == 0 and r:
                last_pair, pair_started = time.monotonic() - pair_started, time.monotonic()
                if time.monotonic() - began + last_pair > args.budget:
                    break
            order = [on, off] if r % 2 == 0 else [off, on]
            for name in order:
                url = f"http://127.0.0.1:{ports[name]}/api/live"
                cpu0 = _cpu_seconds(procs[name].pid)
                took, got = asyncio.run(_load(url, args.requests, args.concurrency))
                cpu[name] += _cpu_seconds(procs[name].pid) - cpu0
                secs[name] += took
                lats[name] += got
            rounds += 1
        n = args.requests * rounds
        print(f"GET /api/live, {n} requisições por variante ({rounds} rodadas alternadas), "
              f"concorrência {args.concurrency}, {os.cpu_count()} núcleos")  # fmt: skip
        rps = {k: n / secs[k] for k in ports}
        cpu_ms = {k: 1000 * cpu[k] / n for k in ports}
        for k in ports:
            print(f"  {k:15s} {rps[k]:8.0f} req/s  p50 {_pct(lats[k], 50):6.2f} ms"
                  f"  p95 {_pct(lats[k], 95):6.2f} ms  p99 {_pct(lats[k], 99):6.2f} ms"
                  f"  CPU do servidor {cpu_ms[k]:.3f} ms/req")  # fmt: skip
        ratio = rps[off] / rps[on]
        print(f"custo na vazão: {100 * (ratio - 1):+.1f}% (razão {ratio:.3f}; meta ≤ +5%)")
        p50 = _pct(lats[on], 50) / _pct(lats[off], 50)
        print(f"custo na latência p50: {100 * (p50 - 1):+.1f}%")
        print(
            f"custo em CPU do servidor por requisição: {100 * (cpu_ms[on] / cpu_ms[off] - 1):+.1f}%"
        )
    finally:
        for p in procs.values():
            p.terminate()
            p.wait(10)


if __name__ == "__main__":
    main()
