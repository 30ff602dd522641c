"""`alertas-operacionais`: tells the operations contacts, by e-mail through the outbox, that a
run failed or crashed, that a run is late beyond the limit, or that a pool has no live worker.

Started by the automations of deployments/automations.yaml with the event's resource
(``prefect.flow-run.<id>`` or ``prefect.work-pool.<id>``); the message is queued once per event
identity (app/monitoring/ops_alerts.py), and `enviar-notificacoes` delivers it.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from prefect import flow, get_run_logger
from prefect.client.orchestration import get_client

from app.db import session_scope
from app.monitoring.ops_alerts import enqueue_ops_alert
from tasks.defaults import flow_defaults

SELF = "alertas-operacionais"


def _late_runs_of(client: Any, deployment_id: UUID) -> int:
    """How many runs of the deployment are Late now (the late-run alert is one per deployment)."""
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateName,
    )

    return int(
        client.count_flow_runs(
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(name=FlowRunFilterStateName(any_=["Late"]))
            ),
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])),
        )
    )


def _run_details(resource: str, *, late: bool = False) -> tuple[str, dict[str, Any], str] | None:
    """(key, details, flow name) of the flow run named by ``resource``; None when unknown.

    ``late``: also count the deployment's Late runs (the automation fires once per deployment).
    """
    run_id = resource.removeprefix("prefect.flow-run.")
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(UUID(run_id))
        flow_name = client.read_flow(run.flow_id).name
        deployment = client.read_deployment(run.deployment_id).name if run.deployment_id else "-"
        late_runs = _late_runs_of(client, run.deployment_id) if late and run.deployment_id else None
    state = run.state
    details = {
        "fluxo": flow_name,
        "implantação": deployment,
        "execução": run.name,
        "id da execução": str(run.id),
        "pool": run.work_pool_name or "-",
        "estado": state.name if state else "-",
        "mensagem": ((state.message or "") if state else "")[:500] or "-",
        "previsto para": str(run.expected_start_time or "-"),
    }
    if late_runs is not None:
        details["execuções atrasadas da implantação"] = late_runs
    key = f"{run.id}:{state.type.value if state else '-'}"
    return key, details, flow_name


@flow(name="alertas-operacionais", **flow_defaults(120))
def ops_alert_flow(tipo: str, recurso: str, nome: str = "", evento: str = "") -> dict[str, Any]:
    """Queue the operational alert of one automation firing (idempotent)."""
    log = get_run_logger()
    if tipo == "pool-sem-worker":
        pool = nome or recurso.removeprefix("prefect.work-pool.")
        key = f"{pool}:{evento or recurso}"
        details: dict[str, Any] = {"pool": pool, "evento": evento or "-"}
        subject = f"pool {pool}"
    else:
        found = _run_details(recurso, late=tipo == "atraso")
        if found is None:
            return {"tipo": tipo, "enfileiradas": 0, "motivo": "execução desconhecida"}
        key, details, flow_name = found
        if flow_name == SELF:  # an alert about the alerting flow itself would loop
            log.warning("Falha do próprio %s: sem novo alerta (veja o Sentry)", SELF)
            return {"tipo": tipo, "enfileiradas": 0, "motivo": "fluxo de alertas"}
        if tipo == "atraso" and details["estado"] not in ("Late", "Scheduled", "Pending"):
            return {"tipo": tipo, "enfileiradas": 0, "motivo": "a execução já começou"}
        subject = f"{details['fluxo']}/{details['implantação']} ({details['estado']})"
    with session_scope() as session:
        queued = enqueue_ops_alert(session, kind=tipo, key=key, subject=subject, details=details)
    if queued:
        log.info("Alerta operacional %s enfileirado: %s", tipo, subject)
    else:
        log.info("Alerta operacional %s já enfileirado (ou sem destinatário): %s", tipo, subject)
    return {"tipo": tipo, "enfileiradas": queued, "chave": key}
