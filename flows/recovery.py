"""`retomar-execucao`: resumes a Crashed flow run of a contab deployment (default pool).

Started by the automation `retomar-execucoes-interrompidas` (deployments/automations.yaml) with
the crashed run's event resource id; the bound (`limite`) is written in that file.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import acreate_table_artifact
from prefect.events import emit_event

from app.prefect_recovery import resume_crashed_run
from tasks.defaults import flow_defaults


@flow(name="retomar-execucao", **flow_defaults(120))
async def resume_crashed_run_flow(execucao: str, limite: int = 3) -> dict[str, Any]:
    """Start the crashed run again with the same parameters, at most ``limite`` times in a row."""
    log = get_run_logger()
    result = await resume_crashed_run(execucao, limite)
    crashed = {"prefect.resource.id": f"prefect.flow-run.{result.execucao_interrompida}"}
    if result.acao == "retomada":
        log.info(
            "Execução %s retomada como %s (%s)",
            result.execucao_interrompida, result.execucao_nova, result.motivo,
        )  # fmt: skip
        emit_event(
            "contab.execucao.retomada",
            resource=crashed,
            related=[
                {
                    "prefect.resource.id": f"prefect.flow-run.{result.execucao_nova}",
                    "prefect.resource.role": "retomada",
                }
            ],
            payload=result.as_dict(),
        )
    elif result.acao == "limite-atingido":
        log.error("Execução %s não será retomada: %s", result.execucao_interrompida, result.motivo)
        emit_event(
            "contab.execucao.retomadas-esgotadas", resource=crashed, payload=result.as_dict()
        )
    else:
        log.info("Nada a retomar para %s: %s", result.execucao_interrompida, result.motivo)
    await acreate_table_artifact(
        key="retomada",
        table=[result.as_dict()],
        description=f"Retomada da execução {result.execucao_interrompida}: {result.acao}",
    )
    return result.as_dict()
