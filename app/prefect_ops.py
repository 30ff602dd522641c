"""Prefect operations as code: work pools, deploying prefect.yaml, pausing pools, late runs.

`deploy()` is idempotent and guards two known Prefect pitfalls (PREFECT.md):
- a redeploy re-activates a schedule an operator paused in the UI → we record paused schedules
  before deploying and pause them again after;
- a schedule or deployment removed from prefect.yaml keeps running → after deploying, schedules
  no longer in the file are deleted, and deployments of this project that the file no longer
  lists are deleted.
Then the automations of deployments/automations.yaml (dead-run detection and resumption) are
applied the same way (app/prefect_automations.py).
This module talks to the Prefect API only; it is used by the CLI, `make dev` and tests.
"""

from __future__ import annotations

import asyncio
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from app.deployments import POOLS
from app.localservices import venv_bin

__all__ = [
    "DeployReport",
    "deploy",
    "ensure_pools",
    "load_prefect_yaml",
    "set_pools_paused",
    "late_runs",
]

POOLS_FILE = Path(__file__).resolve().parent.parent / "deployments" / "pools.yaml"


def pool_definitions(path: Path = POOLS_FILE) -> dict[str, dict[str, Any]]:
    """The pools of deployments/pools.yaml (name → concurrency_limit, description)."""
    with path.open() as fh:
        pools: dict[str, dict[str, Any]] = yaml.safe_load(fh)["pools"]
    return pools


def schedule_key(schedule: Any) -> str:
    """Identity of a server-side schedule: its cron/interval/rrule and timezone."""
    for attr in ("cron", "interval", "rrule"):
        value = getattr(schedule, attr, None)
        if value is not None:
            if attr == "interval":
                value = int(value.total_seconds())
            return f"{attr}={value}|tz={getattr(schedule, 'timezone', None) or 'UTC'}"
    return repr(schedule)


def declared_schedule_key(sched: dict[str, Any]) -> str:
    """Identity of a schedule as written in prefect.yaml (same form as schedule_key)."""
    for attr in ("cron", "interval", "rrule"):
        if sched.get(attr) is not None:
            return f"{attr}={sched[attr]}|tz={sched.get('timezone') or 'UTC'}"
    return repr(sched)


def load_prefect_yaml(path: Path) -> dict[str, Any]:
    """Parse prefect.yaml (anchors resolved)."""
    with path.open() as fh:
        data: dict[str, Any] = yaml.safe_load(fh)
    return data


def _declared(path: Path) -> dict[str, dict[str, Any]]:
    """Map "flow/deployment" → deployment config, by importing nothing (flow names from code)."""
    from app.deployments import flow_name_of_entrypoint

    out = {}
    for dep in load_prefect_yaml(path)["deployments"]:
        flow_name = flow_name_of_entrypoint(path.parent, dep["entrypoint"])
        out[f"{flow_name}/{dep['name']}"] = dep
    return out


async def _ensure_pools() -> list[str]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate, WorkPoolUpdate
    from prefect.exceptions import ObjectNotFound

    created = []
    pools = pool_definitions()  # read per call: nothing is loaded at import time
    async with get_client() as client:
        for pool in POOLS:
            limit = int(pools[pool]["concurrency_limit"])
            try:
                existing = await client.read_work_pool(pool)
                if existing.concurrency_limit != limit:
                    await client.update_work_pool(pool, WorkPoolUpdate(concurrency_limit=limit))
            except ObjectNotFound:
                await client.create_work_pool(
                    WorkPoolCreate(
                        name=pool,
                        type="process",
                        concurrency_limit=limit,
                        description=pools[pool].get("description"),
                    )
                )
                created.append(pool)
    return created


def ensure_pools() -> list[str]:
    """Create missing work pools (process type) and set their concurrency limits."""
    return asyncio.run(_ensure_pools())


@dataclass
class DeployReport:
    """What a deploy changed."""

    deployments: list[str]
    repaused: list[str]
    removed_schedules: int
    removed_deployments: list[str]
    automations: dict[str, list[str]] = field(default_factory=dict)


async def _snapshot_paused() -> dict[tuple[str, str], bool]:
    """(deployment full name, schedule cron/interval repr) → active, for every schedule."""
    from prefect.client.orchestration import get_client

    out: dict[tuple[str, str], bool] = {}
    async with get_client() as client:
        for dep in await client.read_deployments():
            flow = await client.read_flow(dep.flow_id)
            for sched in dep.schedules:
                out[(f"{flow.name}/{dep.name}", schedule_key(sched.schedule))] = sched.active
    return out


async def _reconcile(
    declared: dict[str, dict[str, Any]], before: dict[tuple[str, str], bool]
) -> tuple[list[str], int, list[str]]:
    from prefect.client.orchestration import get_client

    repaused: list[str] = []
    removed_sched = 0
    removed_deps: list[str] = []
    async with get_client() as client:
        for dep in await client.read_deployments():
            flow = await client.read_flow(dep.flow_id)
            full = f"{flow.name}/{dep.name}"
            if full not in declared:
                if (
                    "contab" in (dep.tags or [])
                    or dep.entrypoint
                    and dep.entrypoint.startswith("flows/")
                ):
                    await client.delete_deployment(dep.id)
                    removed_deps.append(full)
                continue
            wanted = {declared_schedule_key(s) for s in declared[full].get("schedules") or []}
            for sched in dep.schedules:
                key = schedule_key(sched.schedule)
                if key not in wanted:  # removed from the file: must not keep running
                    await client.delete_deployment_schedule(dep.id, sched.id)
                    removed_sched += 1
                    continue
                if before.get((full, key)) is False and sched.active:
                    await client.update_deployment_schedule(dep.id, sched.id, active=False)
                    repaused.append(full)
    return repaused, removed_sched, removed_deps


def deploy(
    project_root: Path, *, env: dict[str, str] | None = None, timeout: float = 300
) -> DeployReport:
    """Create pools, run `prefect --no-prompt deploy --all`, restore paused schedules, then
    apply the automations (their actions name deployments, so they come last)."""
    import os

    from app.prefect_automations import apply_automations

    ensure_pools()
    declared = _declared(project_root / "prefect.yaml")
    before = asyncio.run(_snapshot_paused())
    proc = subprocess.run(  # noqa: S603
        [venv_bin("prefect"), "--no-prompt", "deploy", "--all"],
        cwd=project_root,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"prefect deploy falhou:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    repaused, removed_sched, removed_deps = asyncio.run(_reconcile(declared, before))
    automations = apply_automations(
        project_root / "deployments" / "automations.yaml", env={**os.environ, **(env or {})}
    )
    return DeployReport(
        sorted(declared), repaused, removed_sched, removed_deps, asdict(automations)
    )


async def _set_paused(pools: list[str], paused: bool) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolUpdate
    from prefect.exceptions import ObjectNotFound

    async with get_client() as client:
        for pool in pools:
            try:
                await client.update_work_pool(pool, WorkPoolUpdate(is_paused=paused))
            except ObjectNotFound:
                # first install: the pool does not exist yet, so there is nothing to pause
                continue


def set_pools_paused(pools: list[str], paused: bool) -> None:
    """Pause/resume pools: a paused pool's workers stop picking up runs (guide §12)."""
    asyncio.run(_set_paused(pools, paused))


async def _late_runs() -> dict[str, int]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateName,
        WorkPoolFilter,
        WorkPoolFilterName,
    )

    out: dict[str, int] = {}
    async with get_client() as client:
        for pool in POOLS:
            runs = await client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    state=FlowRunFilterState(name=FlowRunFilterStateName(any_=["Late"]))
                ),
                work_pool_filter=WorkPoolFilter(name=WorkPoolFilterName(any_=[pool])),
            )
            out[pool] = len(runs)
    return out


def late_runs() -> dict[str, int]:
    """Number of Late flow runs per pool (the 30-minute post-deploy watch)."""
    return asyncio.run(_late_runs())
