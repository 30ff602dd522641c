"""The whole path: real Prefect server, pools, `prefect deploy` from prefect.yaml, workers, API."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select

from app.db import session_scope
from app.deployments import LIMPEZA_DE_LOGS, POOLS
from models import AuditLog, OperationalLog
from tests.e2e.conftest import run_and_wait

pytestmark = pytest.mark.e2e


def _wait_health_ok(url: str, timeout: float = 60) -> dict:  # type: ignore[type-arg]
    import time

    deadline = time.monotonic() + timeout
    body: dict = {}  # type: ignore[type-arg]
    while time.monotonic() < deadline:
        r = httpx.get(url, timeout=5)
        body = r.json()
        if r.status_code == 200:
            return body
        time.sleep(1)
    raise AssertionError(f"health never became ok: {body}")


def test_health_is_ok_with_every_component(platform) -> None:  # type: ignore[no-untyped-def]
    body = _wait_health_ok(f"http://127.0.0.1:{platform.api_port}/api/health")
    assert body["status"] == "ok"
    assert {body[k] for k in ("database", "redis", "queue", "storage")} == {"ok"}
    assert body["version"]


def test_prefect_lists_deployments_with_schedules(platform) -> None:  # type: ignore[no-untyped-def]
    from prefect.client.orchestration import get_client

    async def read() -> dict[str, tuple[str, list[tuple[str, str]]]]:
        async with get_client() as client:
            out = {}
            for dep in await client.read_deployments():
                flow = await client.read_flow(dep.flow_id)
                out[f"{flow.name}/{dep.name}"] = (
                    dep.work_pool_name,
                    [
                        (getattr(s.schedule, "cron", None), s.schedule.timezone)  # type: ignore[union-attr]
                        for s in dep.schedules
                    ],
                )
            return out

    deployments = asyncio.run(read())
    pool, schedules = deployments[LIMPEZA_DE_LOGS]
    assert pool == "default"
    assert schedules == [("0 3 * * *", "America/Sao_Paulo")]


def test_limpeza_de_logs_runs_through_a_worker(platform, clean_db) -> None:  # type: ignore[no-untyped-def]
    old = datetime.now(UTC) - timedelta(days=400)
    with session_scope() as s:
        s.add_all(
            [OperationalLog(at=old, level="INFO", source="e2e", message=str(i)) for i in range(5)]
        )
        s.add(OperationalLog(level="INFO", source="e2e", message="recente"))
        s.add(AuditLog(at=old, actor="e2e", action="x", entity="y"))
    fr = run_and_wait(LIMPEZA_DE_LOGS)
    assert fr.state.name == "Completed", fr.state
    assert fr.work_pool_name == "default"
    with session_scope() as s:
        assert s.scalar(select(func.count()).select_from(OperationalLog)) == 1
        assert s.scalar(select(func.count()).select_from(AuditLog)) == 1


def test_smoke_passes_then_names_a_pool_without_worker(platform) -> None:  # type: ignore[no-untyped-def]
    from app.smoke import run_smoke

    url = f"http://127.0.0.1:{platform.api_port}"
    _wait_health_ok(url + "/api/health")
    ok, lines = run_smoke(url, timeout=90)
    assert ok, "\n".join(lines)
    assert sum(line.startswith("OK") and "fluxo de teste" in line for line in lines) == len(POOLS)

    worker = next(p for p in platform.supervisor.processes if p.name == "worker-guias")
    worker.stop()
    try:
        ok, lines = run_smoke(url, timeout=15)
        assert not ok
        assert any(
            line.startswith("FALHA") and "pool guias" in line and "sem worker" in line
            for line in lines
        ), lines
    finally:
        from app.localservices import venv_bin
        from app.settings import PROJECT_ROOT

        platform.supervisor.processes.remove(worker)
        platform.supervisor.start(
            "worker-guias",
            [venv_bin("prefect"), "worker", "start", "--pool", "guias", "--type", "process"],
            cwd=PROJECT_ROOT,
            signals_to_stop=2,
        )
