"""deployments/automations.yaml: valid for Prefect's own schema, templated from the environment,
and the dead-run recipe holds together with prefect.yaml (heartbeats on every pool)."""

from __future__ import annotations

import uuid

import pytest

from app.prefect_automations import OWN_TAG, _resolved_core, expand, load_automations
from app.prefect_ops import load_prefect_yaml
from app.prefect_recovery import resumption_number
from app.settings import PROJECT_ROOT

DATA = load_prefect_yaml(PROJECT_ROOT / "prefect.yaml")


def _cores(env: dict[str, str]) -> dict[str, object]:
    ids = {
        "retomar-execucao/retomar-execucao": uuid.uuid4(),
        "alertas-operacionais/alertas-operacionais": uuid.uuid4(),
    }
    return {a["name"]: _resolved_core(a, ids) for a in load_automations(env=env)}


def test_every_automation_is_valid_for_prefect_and_tagged_as_ours() -> None:
    cores = _cores({})
    assert set(cores) == {
        "marcar-execucoes-sem-sinal-como-crashed",
        "marcar-inicios-perdidos-como-crashed",
        "retomar-execucoes-interrompidas",
        "notificar-falhas-de-execucao",
        "notificar-execucoes-atrasadas",
        "notificar-pool-sem-worker",
    }
    for core in cores.values():
        assert OWN_TAG in core.tags  # type: ignore[attr-defined]
        assert core.description  # type: ignore[attr-defined]


def test_dead_run_window_defaults_to_three_heartbeats_and_is_overridable() -> None:
    crash = _cores({})["marcar-execucoes-sem-sinal-como-crashed"]
    assert crash.trigger.within.total_seconds() == 90  # type: ignore[attr-defined]
    assert crash.trigger.posture == "Proactive"  # type: ignore[attr-defined]
    assert crash.actions[0].state.value == "CRASHED"  # type: ignore[attr-defined]
    assert "90 s" in crash.actions[0].message  # type: ignore[attr-defined]
    short = _cores({"CONTAB_DEAD_RUN_WINDOW_SECONDS": "60"})[
        "marcar-execucoes-sem-sinal-como-crashed"
    ]
    assert short.trigger.within.total_seconds() == 60  # type: ignore[attr-defined]


def test_every_pool_sends_heartbeats_often_enough_for_the_window() -> None:
    """A live run is never marked Crashed: the window outlasts two heartbeat intervals and a
    flow retry's wait (no heartbeats while a flow waits to retry)."""
    from tasks.defaults import flow_defaults

    window = _cores({})["marcar-execucoes-sem-sinal-como-crashed"].trigger.within  # type: ignore[attr-defined]
    retry_wait = flow_defaults(60)["retry_delay_seconds"]
    assert window.total_seconds() >= retry_wait + 20
    for dep in DATA["deployments"]:
        env = dep["work_pool"].get("job_variables", {}).get("env", {})
        beat = int(env.get("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", 0))
        assert 30 <= beat and 2 * beat < window.total_seconds(), dep["name"]


def test_resumption_action_names_an_existing_deployment_and_a_bound() -> None:
    from app.deployments import flow_name_of_entrypoint

    names = {
        f"{flow_name_of_entrypoint(PROJECT_ROOT, d['entrypoint'])}/{d['name']}"
        for d in DATA["deployments"]
    }
    (auto,) = [
        a for a in load_automations(env={}) if a["name"] == "retomar-execucoes-interrompidas"
    ]
    (action,) = auto["actions"]
    assert action["deployment"] in names
    assert 1 <= action["parameters"]["limite"] <= 5


def test_unknown_deployment_or_variable_is_refused() -> None:
    (auto,) = [
        a for a in load_automations(env={}) if a["name"] == "retomar-execucoes-interrompidas"
    ]
    with pytest.raises(ValueError, match="não existe"):
        _resolved_core(auto, {})
    with pytest.raises(ValueError, match="SEM_PADRAO"):
        expand("within: ${SEM_PADRAO}", {})
    assert expand("a ${X:-1} b ${Y}", {"Y": "2"}) == "a 1 b 2"


def test_resumption_number_counts_the_chain() -> None:
    assert resumption_number(None) == 0
    assert resumption_number(["guias", "retomada"]) == 0
    assert resumption_number(["retomada", "retomada-2", "guias"]) == 2
