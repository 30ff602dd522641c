"""prefect.yaml is the one catalogue: every entrypoint loads, every name the code uses exists."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from app import deployments
from app.deployments import POOLS, TRIGGERED_BY_API, flow_name_of_entrypoint
from app.prefect_ops import load_prefect_yaml, pool_definitions
from app.settings import PROJECT_ROOT

DATA = load_prefect_yaml(PROJECT_ROOT / "prefect.yaml")
DEPLOYMENTS = DATA["deployments"]
FULL_NAMES = {
    f"{flow_name_of_entrypoint(PROJECT_ROOT, d['entrypoint'])}/{d['name']}": d for d in DEPLOYMENTS
}


@pytest.mark.parametrize("dep", DEPLOYMENTS, ids=[d["name"] for d in DEPLOYMENTS])
def test_entrypoint_loads_as_a_named_flow(dep: dict) -> None:  # type: ignore[type-arg]
    from prefect.flows import load_flow_from_entrypoint

    flow = load_flow_from_entrypoint(str(PROJECT_ROOT / dep["entrypoint"]))
    assert flow.name == flow_name_of_entrypoint(PROJECT_ROOT, dep["entrypoint"])
    assert flow.timeout_seconds, f"{flow.name} has no timeout"
    assert (
        flow.name == flow.name.lower() and " " not in flow.name
    )  # kebab-case, as operators see it


def test_every_deployment_name_in_code_exists_in_prefect_yaml() -> None:
    names = [
        v for k, v in vars(deployments).items() if k.isupper() and isinstance(v, str) and "/" in v
    ]
    assert names, "app/deployments.py declares no deployment names"
    missing = [n for n in names if n not in FULL_NAMES]
    assert missing == []
    assert set(TRIGGERED_BY_API) <= set(FULL_NAMES)
    for pool in POOLS:
        assert deployments.smoke_deployment(pool) in FULL_NAMES


def test_pools_schedules_and_pull_step() -> None:
    defined = pool_definitions()
    assert tuple(defined) == POOLS
    tz = yaml.safe_load((PROJECT_ROOT / "deployments" / "pools.yaml").read_text())["timezone"]
    assert tz == "America/Sao_Paulo"
    for dep in DEPLOYMENTS:
        assert dep["work_pool"]["name"] in POOLS, dep["name"]
        for sched in dep.get("schedules") or []:
            assert sched.get("timezone") == tz, (
                f"{dep['name']}: schedule without the office timezone"
            )
    pull = DATA["pull"][0]["prefect.deployments.steps.set_working_directory"]
    assert pull["directory"] == "{{ $CONTAB_HOME }}"  # never an absolute path of one machine


def test_no_flow_module_shadows_a_top_level_package() -> None:
    top = {p.name for p in PROJECT_ROOT.iterdir() if p.is_dir()} | {"app"}
    flows = {p.stem for p in Path(PROJECT_ROOT / "flows").glob("*.py")}
    assert flows & top == set()
