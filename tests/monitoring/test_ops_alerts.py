"""Operational alerts: the automations that start them are valid Prefect automations aimed at
the alertas-operacionais deployment, and the e-mail is queued once per event in the outbox."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

OPS = "ops@escritorio.com.br,plantao@escritorio.com.br"


@pytest.fixture
def ops_contacts(monkeypatch: pytest.MonkeyPatch, clean_db: None) -> Iterator[None]:
    from app.settings import get_settings

    monkeypatch.setenv("OPS_ALERT_EMAILS", OPS)
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


def test_alert_is_queued_once_per_event_to_each_ops_contact(ops_contacts: None) -> None:
    from sqlalchemy import select

    from app.db import session_scope
    from app.monitoring.ops_alerts import enqueue_ops_alert
    from app.notify.render import render
    from models import Notification

    details = {"fluxo": "gerar-guias", "estado": "Failed", "mensagem": "Flow run failed"}
    for _ in range(3):  # the automation fired again, the flow was retried
        with session_scope() as s:
            enqueue_ops_alert(
                s, kind="falha", key="run-1:FAILED", subject="gerar-guias", details=details
            )
    with session_scope() as s:
        enqueue_ops_alert(
            s, kind="falha", key="run-2:CRASHED", subject="gerar-guias", details=details
        )
    with session_scope() as s:
        rows = list(s.scalars(select(Notification).order_by(Notification.id)))
        assert sorted(r.recipient for r in rows) == sorted(OPS.split(",") * 2)
        assert {r.template for r in rows} == {"alerta_operacional"}
        msg = render(rows[0].template, rows[0].context)
    assert "ALERTA operacional: Execução terminou com falha: gerar-guias" in msg.subject
    assert "estado: Failed" in msg.text and "docs/monitoring.md" in msg.text


def test_unknown_kind_is_refused(ops_contacts: None) -> None:
    from app.db import session_scope
    from app.monitoring.ops_alerts import enqueue_ops_alert

    with session_scope() as s, pytest.raises(ValueError):
        enqueue_ops_alert(s, kind="outro", key="x", subject="x", details={})


def test_automations_aim_at_the_alert_flow() -> None:
    from app.deployments import flow_name_of_entrypoint
    from app.prefect_automations import _resolved_core, load_automations
    from app.prefect_ops import load_prefect_yaml
    from app.settings import PROJECT_ROOT

    deployments = {
        f"{flow_name_of_entrypoint(PROJECT_ROOT, d['entrypoint'])}/{d['name']}": uuid.uuid4()
        for d in load_prefect_yaml(PROJECT_ROOT / "prefect.yaml")["deployments"]
    }
    autos = {a["name"]: a for a in load_automations(env={})}
    wanted = {
        "notificar-falhas-de-execucao": (
            "falha",
            ["prefect.flow-run.Failed", "prefect.flow-run.Crashed"],
        ),
        "notificar-execucoes-atrasadas": ("atraso", ["prefect.flow-run.Late"]),
        "notificar-pool-sem-worker": ("pool-sem-worker", ["prefect.work-pool.not-ready"]),
    }
    target = deployments["alertas-operacionais/alertas-operacionais"]
    for name, (kind, events) in wanted.items():
        core = _resolved_core(autos[name], deployments)
        action = core.actions[0]
        assert str(action.deployment_id) == str(target)
        assert action.parameters["tipo"] == kind
        trig = core.trigger
        watched = trig.after if trig.posture == "Proactive" else trig.expect
        assert sorted(watched) == sorted(events)
    late = _resolved_core(autos["notificar-execucoes-atrasadas"], deployments)
    assert late.trigger.within.total_seconds() == 900
    # one countdown per deployment: a backlog of late runs is one alert, not one per run
    assert late.trigger.for_each == {"related:deployment:prefect.resource.id"}
    assert late.trigger.match_related.model_dump() == {"prefect.resource.role": "deployment"}
    shorter = {a["name"]: a for a in load_automations(env={"CONTAB_LATE_RUN_ALERT_SECONDS": "60"})}
    core = _resolved_core(shorter["notificar-execucoes-atrasadas"], deployments)
    assert core.trigger.within.total_seconds() == 60


def test_every_run_deployment_action_renders_its_parameters_as_the_server_does() -> None:
    """Each automation's parameters rendered by Prefect's own server code against an event of the
    kind that fires it: a template the server cannot render makes the action fail (InvalidJinja)
    and no run start — what `{{ event.id }}` did before it went through `| string`."""
    from prefect.server.events.actions import RunDeployment
    from prefect.server.events.schemas.events import ReceivedEvent
    from prefect.types._datetime import now
    from prefect.utilities.schema_tools.hydration import HydrationContext, hydrate

    from app.prefect_automations import load_automations

    run_id, pool_id = uuid.uuid4(), uuid.uuid4()
    events = {
        "prefect.flow-run": ReceivedEvent(
            occurred=now("UTC"),
            event="prefect.flow-run.Failed",
            resource={
                "prefect.resource.id": f"prefect.flow-run.{run_id}",
                "prefect.resource.name": "execucao-teste",
            },
            related=[
                {
                    "prefect.resource.id": f"prefect.deployment.{uuid.uuid4()}",
                    "prefect.resource.role": "deployment",
                }
            ],
            id=uuid.uuid4(),
        ),
        "prefect.work-pool": ReceivedEvent(
            occurred=now("UTC"),
            event="prefect.work-pool.not-ready",
            resource={
                "prefect.resource.id": f"prefect.work-pool.{pool_id}",
                "prefect.resource.name": "guias",
            },
            id=uuid.uuid4(),
        ),
    }
    checked = 0
    for auto in load_automations(env={}):
        watched = auto["trigger"]["match"]["prefect.resource.id"].removesuffix(".*")
        event = events[watched]
        for action in auto["actions"]:
            if action["type"] != "run-deployment":
                continue
            params = dict(action.get("parameters") or {})
            RunDeployment._upgrade_v1_templates(params)
            rendered = hydrate(
                params,
                HydrationContext(
                    raise_on_error=True, render_jinja=True, jinja_context={"event": event}
                ),
            )
            assert all(isinstance(v, str | int) for v in rendered.values()), (
                auto["name"],
                rendered,
            )
            if "evento" in rendered:
                assert rendered["evento"] == str(event.id), auto["name"]
            if "recurso" in rendered or "execucao" in rendered:
                assert rendered.get("recurso", rendered.get("execucao")) == event.resource.id
            if auto["name"] == "notificar-pool-sem-worker":
                assert rendered["nome"] == "guias"
            checked += 1
    assert checked == 4  # retomar-execucao and the three operational alerts
