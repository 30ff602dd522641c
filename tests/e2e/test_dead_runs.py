"""Dead runs recover by themselves (docs/operations.md, "Execuções interrompidas / dead runs").

Three smoke runs, each on its own pool, are killed with SIGKILL at the same time, as the OOM
killer or a lost machine would:
- guias: only the flow-run process dies → Crashed, resumed with the same parameters, completes;
- notificacoes: the machine is "lost" (its worker dies too, so nobody sees the exit code) → the
  heartbeat automation marks it Crashed, and it is resumed and completes once a worker is back;
- documentos: the run is already the 3rd resumption of its chain → Crashed, not resumed again.
The smoke flow's resumption (tag ``retomada``) does not repeat the wait, so it completes at once.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from app.deployments import smoke_deployment

pytestmark = [pytest.mark.e2e, pytest.mark.load, pytest.mark.timeout(900)]

RECOVERY = "retomar-execucao/retomar-execucao"


def flow_run_pids(run_id: UUID) -> list[int]:
    """Processes running this flow run (the process worker's child carries its id)."""
    marker = f"PREFECT__FLOW_RUN_ID={run_id}".encode()
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if marker in (proc / "environ").read_bytes().split(b"\0"):
                pids.append(int(proc.name))
        except OSError:  # exited meanwhile, or not ours
            continue
    return pids


async def _read(run_id: UUID) -> Any:
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        return await client.read_flow_run(run_id)


def read(run_id: UUID) -> Any:
    return asyncio.run(_read(run_id))


def wait_for(what: str, check: Any, timeout: float, every: float = 1.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"{what}: nada em {timeout:.0f} s")


async def _runs_tagged(deployment_id: UUID, tag: str) -> list[Any]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowRunFilter,
        FlowRunFilterTags,
    )

    async with get_client() as client:
        return await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=[tag])),
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])),
        )


async def _recovery_results(crashed_id: UUID) -> list[dict[str, Any]]:
    """The decisions (table artifact) of the finished retomar-execucao runs for this run."""
    import json

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        DeploymentFilter,
        DeploymentFilterName,
    )

    async with get_client() as client:
        runs = await client.read_flow_runs(
            deployment_filter=DeploymentFilter(
                name=DeploymentFilterName(any_=[RECOVERY.split("/")[1]])
            )
        )
        out: list[dict[str, Any]] = []
        for run in runs:
            if str(crashed_id) not in str(run.parameters.get("execucao")):
                continue
            if not (run.state and run.state.is_final()):
                continue
            assert run.state.is_completed(), run.state.message
            for art in await client.read_artifacts(
                artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run.id]))
            ):
                data = json.loads(art.data) if isinstance(art.data, str) else art.data
                out.extend(data)
        return out


def test_killed_runs_are_crashed_and_resumed_within_the_bound(platform) -> None:  # type: ignore[no-untyped-def]
    from prefect.deployments import run_deployment

    runs = {
        pool: run_deployment(
            smoke_deployment(pool),
            parameters={"pool": pool, "segundos": 500},
            # the chain's count only: the drill's wait is skipped by resumptions (tag retomada)
            tags=["retomada-3"] if pool == "documentos" else None,
            timeout=0,
        )
        for pool in ("guias", "notificacoes", "documentos")
    }

    # Each run is Running with its process up (heartbeats start with the flow function).
    pids = {
        pool: wait_for(
            f"processo da execução em {pool}",
            lambda fr=fr: read(fr.id).state.is_running() and flow_run_pids(fr.id),
            300,
            0.3,
        )
        for pool, fr in runs.items()
    }
    worker = next(p for p in platform.supervisor.processes if p.name == "worker-notificacoes")
    os.kill(worker.proc.pid, signal.SIGKILL)  # the machine is lost: its worker dies too
    for pool_pids in pids.values():
        for pid in pool_pids:
            os.kill(pid, signal.SIGKILL)
    worker.proc.wait(10)
    platform.supervisor.restart(worker)  # a machine (worker) of the pool is back

    for pool, fr in runs.items():
        state = wait_for(
            f"execução morta em {pool} marcada Crashed",
            lambda fr=fr: (s := read(fr.id).state).is_final() and s,
            240,
        )
        assert state.name == "Crashed", (pool, state.name, state.message)
    lost = read(runs["notificacoes"].id).state
    assert "sinal de vida" in (lost.message or ""), lost.message  # only heartbeats could tell

    for pool in ("guias", "notificacoes"):
        fr = runs[pool]
        (resumed,) = wait_for(
            f"retomada da execução em {pool}",
            lambda fr=fr: asyncio.run(_runs_tagged(fr.deployment_id, "retomada-1")),
            120,
        )
        final = wait_for(
            f"retomada em {pool} terminada",
            lambda r=resumed: (s := read(r.id).state).is_final() and s,
            180,
        )
        assert final.name == "Completed", (pool, final.message)
        assert resumed.parameters == fr.parameters
        assert {"retomada", "retomada-1"} <= set(resumed.tags)
        assert read(fr.id).state.name == "Crashed"  # the dead run stays as it was, for the record

    # The 3rd resumption of a chain that crashed again is not resumed a 4th time.
    bounded = runs["documentos"]
    (result,) = wait_for(
        "decisão do retomar-execucao sobre a execução no limite",
        lambda: asyncio.run(_recovery_results(bounded.id)),
        120,
    )
    assert result["acao"] == "limite-atingido", result
    assert asyncio.run(_runs_tagged(bounded.deployment_id, "retomada-4")) == []
