"""`contab deploy` against a real Prefect server: idempotent, keeps paused schedules paused,
removes schedules and deployments dropped from prefect.yaml (both known Prefect pitfalls)."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.deployments import LIMPEZA_DE_LOGS
from app.prefect_ops import deploy
from app.settings import PROJECT_ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]  # the session platform starts here


async def _state() -> dict[str, dict[str, Any]]:
    from prefect.client.orchestration import get_client

    out: dict[str, dict[str, Any]] = {}
    async with get_client() as client:
        for dep in await client.read_deployments():
            flow = await client.read_flow(dep.flow_id)
            out[f"{flow.name}/{dep.name}"] = {
                "id": dep.id,
                "pool": dep.work_pool_name,
                "parameters": dep.parameters,
                "schedules": sorted(
                    (getattr(s.schedule, "cron", None), s.active) for s in dep.schedules
                ),
            }
    return out


def state() -> dict[str, dict[str, Any]]:
    return asyncio.run(_state())


def set_schedule_active(full_name: str, active: bool) -> None:
    from prefect.client.orchestration import get_client

    async def go() -> None:
        async with get_client() as client:
            dep = await client.read_deployment_by_name(full_name)
            for s in dep.schedules:
                await client.update_deployment_schedule(dep.id, s.id, active=active)

    asyncio.run(go())


def project_copy(tmp_path: Path, edit: Any) -> Path:
    """A copy of the project's prefect.yaml + flows/ with the deployments list edited."""
    root = tmp_path / "proj"
    shutil.copytree(PROJECT_ROOT / "flows", root / "flows")
    shutil.copytree(PROJECT_ROOT / "deployments", root / "deployments")
    data = yaml.safe_load((PROJECT_ROOT / "prefect.yaml").read_text())
    data.pop("definitions", None)  # anchors are already expanded by safe_load
    edit(data["deployments"])
    (root / "prefect.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return root


def test_deploy_is_idempotent_and_respects_pauses_and_removals(platform, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    first = state()
    report = deploy(PROJECT_ROOT, env=platform.env)
    assert (
        report.repaused == [] and report.removed_schedules == 0 and report.removed_deployments == []
    )
    assert state() == first, "a second deploy must change nothing"

    # An operator pauses the schedule in the UI; a redeploy must not re-activate it.
    set_schedule_active(LIMPEZA_DE_LOGS, False)
    report = deploy(PROJECT_ROOT, env=platform.env)
    assert state()[LIMPEZA_DE_LOGS]["schedules"] == [("0 3 * * *", False)]
    set_schedule_active(LIMPEZA_DE_LOGS, True)

    try:
        # The schedule is removed from the file: after deploying it must be gone.
        def drop_schedule(deps: list[dict[str, Any]]) -> None:
            for d in deps:
                if d["name"] == "limpeza-de-logs":
                    d["schedules"] = []

        deploy(project_copy(tmp_path / "a", drop_schedule), env=platform.env)
        assert state()[LIMPEZA_DE_LOGS]["schedules"] == []

        # A deployment removed from the file is deleted, not left running.
        def drop_deployment(deps: list[dict[str, Any]]) -> None:
            deps[:] = [d for d in deps if d["name"] != "teste-de-fumaca-guias"]

        report = deploy(project_copy(tmp_path / "b", drop_deployment), env=platform.env)
        assert "teste-de-fumaca/teste-de-fumaca-guias" in report.removed_deployments
        assert "teste-de-fumaca/teste-de-fumaca-guias" not in state()
    finally:
        deploy(PROJECT_ROOT, env=platform.env)  # back to the project's catalogue
    restored = state()
    assert restored[LIMPEZA_DE_LOGS]["schedules"] == [("0 3 * * *", True)]
    assert set(restored) == set(first)


def test_paused_pool_holds_runs_until_resumed(platform) -> None:  # type: ignore[no-untyped-def]
    """`contab workers pause` (guide §12): runs queue up during a deploy and run after resume."""
    import time

    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment

    from app.deployments import smoke_deployment
    from app.prefect_ops import set_pools_paused

    set_pools_paused(["guias"], True)
    try:
        fr = run_deployment(smoke_deployment("guias"), timeout=0)

        async def read(run_id):  # type: ignore[no-untyped-def]
            async with get_client() as client:
                return await client.read_flow_run(run_id)

        time.sleep(6)  # several worker polling intervals (1 s each)
        assert asyncio.run(read(fr.id)).state.name in {"Scheduled", "Late"}
    finally:
        set_pools_paused(["guias"], False)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = asyncio.run(read(fr.id)).state
        if state.is_final():
            break
        time.sleep(0.5)
    assert state.name == "Completed"


async def _automations() -> dict[str, dict[str, Any]]:
    from prefect.client.orchestration import get_client

    from app.prefect_automations import read_own_automations

    async with get_client() as client:
        autos = await read_own_automations(client)
    return {
        str(a.id): {"name": a.name, "enabled": a.enabled, "body": a.model_dump(mode="json")}
        for a in autos
    }


def automations() -> dict[str, dict[str, Any]]:
    return asyncio.run(_automations())


def test_automations_applied_idempotently_kept_paused_and_removed(platform, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """deployments/automations.yaml: one automation per name whatever the number of deploys;
    an operator's pause survives; one dropped from the file is deleted from the server."""
    from prefect.client.orchestration import get_client

    from app.prefect_automations import AUTOMATIONS_FILE, apply_automations, load_automations

    names = {a["name"] for a in load_automations()}
    first = automations()
    assert sorted(a["name"] for a in first.values()) == sorted(names)
    report = deploy(PROJECT_ROOT, env=platform.env)
    assert sorted(report.automations["unchanged"]) == sorted(names)
    assert report.automations["created"] == report.automations["removed"] == []
    assert automations() == first, "a second apply must change nothing"

    crash_id = next(i for i, a in first.items() if a["name"].startswith("marcar-"))

    async def pause(automation_id: str) -> None:
        async with get_client() as client:
            await client.pause_automation(automation_id)  # type: ignore[arg-type]

    asyncio.run(pause(crash_id))
    try:
        apply_automations()
        assert automations()[crash_id]["enabled"] is False
        # Dropped from the file: deleted; restored: created again, never twice.
        data = yaml.safe_load(AUTOMATIONS_FILE.read_text())
        data["automations"] = [a for a in data["automations"] if a["name"].startswith("retomar-")]
        partial = tmp_path / "automations.yaml"
        partial.write_text(yaml.safe_dump(data, allow_unicode=True))
        report_partial = apply_automations(partial)
        assert sorted(report_partial.removed) == sorted(names - {"retomar-execucoes-interrompidas"})
        assert [a["name"] for a in automations().values()] == ["retomar-execucoes-interrompidas"]
    finally:
        apply_automations()
    restored = automations()
    assert sorted(a["name"] for a in restored.values()) == sorted(names)
    assert all(a["enabled"] for a in restored.values())
