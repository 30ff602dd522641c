"""Post-deploy smoke test (guide §4.4 / §12 "smoke test"): `contab smoke --url URL`.

Checks, each with a clear pt-BR line: health 200 and every component ok; the version the API
reports equals this release; a storage write/read/delete round-trip; a trivial flow run completes
on each of the four pools (proves every pool has a live worker); no pool has late runs.
"""

from __future__ import annotations

import asyncio
import secrets
import time

import httpx

from app.deployments import POOLS, smoke_deployment
from app.settings import get_settings

__all__ = ["run_smoke"]


async def _run_pool_flows(timeout: float) -> dict[str, str]:
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment

    runs = {}
    for pool in POOLS:
        fr = await run_deployment(smoke_deployment(pool), timeout=0)  # type: ignore[misc]
        runs[pool] = fr.id
    results: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    async with get_client() as client:
        while len(results) < len(runs) and time.monotonic() < deadline:
            for pool, run_id in runs.items():
                if pool in results:
                    continue
                fr = await client.read_flow_run(run_id)
                if fr.state and fr.state.is_final():
                    results[pool] = fr.state.name or "?"
            await asyncio.sleep(1)
        for pool, run_id in runs.items():
            if pool not in results:
                results[pool] = "sem worker (não iniciou a tempo)"
                await client.delete_flow_run(run_id)  # don't leave a stuck run behind
    return results


def run_smoke(url: str, *, timeout: float = 120, run_flows: bool = True) -> tuple[bool, list[str]]:
    """Run every check; returns (all ok, report lines)."""
    s = get_settings()
    lines: list[str] = []
    ok = True

    def check(passed: bool, text: str) -> None:
        nonlocal ok
        ok = ok and passed
        lines.append(("OK    " if passed else "FALHA ") + text)

    try:
        resp = httpx.get(url.rstrip("/") + "/api/health", timeout=10)
        body = resp.json()
        check(resp.status_code == 200, f"saúde HTTP {resp.status_code}: {body}")
        check(
            body.get("version") == s.APP_VERSION,
            f"versão implantada {body.get('version')} (esperada {s.APP_VERSION})",
        )
    except (httpx.HTTPError, ValueError) as exc:
        check(False, f"API inacessível em {url}: {exc}")
    try:
        from app.storage import get_storage

        storage = get_storage()
        key = f"smoke/{secrets.token_hex(8)}.txt"
        payload = secrets.token_bytes(32)
        storage.put(key, payload, content_type="text/plain")
        same = storage.get(key) == payload
        storage.delete(key)
        check(same and not storage.exists(key), "armazenamento: gravar/ler/apagar")
    except Exception as exc:  # noqa: BLE001 - every failure is a report line
        check(False, f"armazenamento: {exc}")
    if run_flows:
        try:
            results = asyncio.run(_run_pool_flows(timeout))
            for pool, state in results.items():
                check(state == "Completed", f"fluxo de teste no pool {pool}: {state}")
        except Exception as exc:  # noqa: BLE001
            check(False, f"execução de fluxos de teste: {type(exc).__name__}: {exc}")
        try:
            from app.prefect_ops import late_runs

            late = late_runs()
            check(not any(late.values()), f"execuções atrasadas por pool: {late}")
        except Exception as exc:  # noqa: BLE001
            check(False, f"fila: {type(exc).__name__}: {exc}")
    return ok, lines
