"""Resuming a Crashed flow run: the work of the `retomar-execucao` flow.

A run is Crashed when its process died (the worker saw it exit abnormally, or the automation
`marcar-execucoes-sem-sinal-como-crashed` stopped hearing its heartbeats). Every contab flow is
idempotent, so the run is started again from its deployment with the same parameters and job
variables. Each resumption is tagged ``retomada`` and ``retomada-<n>``; the n-th resumption of a
chain that crashes again is not resumed once n reaches the limit, so a run that crashes every time
is not re-run forever. One crashed run is resumed at most once (idempotency key on its id).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any
from uuid import UUID

__all__ = [
    "RESUMED_TAG",
    "Resumption",
    "resume_crashed_run",
    "resumption_number",
]

RESUMED_TAG = "retomada"
_NUMBERED = re.compile(rf"^{RESUMED_TAG}-(\d+)$")
_NAME_SUFFIX = re.compile(rf"-{RESUMED_TAG}-\d+$")


def resumption_number(tags: list[str] | None) -> int:
    """How many times in a row this run's chain was already resumed (0 for an original run)."""
    found = [int(m.group(1)) for t in tags or [] if (m := _NUMBERED.match(t))]
    return max(found, default=0)


def _run_id(ref: str) -> UUID:
    """A flow run id, bare or as an event resource id (``prefect.flow-run.<id>``)."""
    return UUID(ref.strip().removeprefix("prefect.flow-run."))


@dataclass
class Resumption:
    """What `retomar-execucao` did (its return value, in pt-BR for the UI)."""

    acao: str  # retomada | limite-atingido | ignorada
    motivo: str
    execucao_interrompida: str
    execucao_nova: str | None = None
    retomada: int = 0
    limite: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


async def resume_crashed_run(ref: str, limit: int) -> Resumption:
    """Start the crashed run ``ref`` again from its deployment, unless the limit is reached."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.objects import StateType

    run_id = _run_id(ref)
    async with get_client() as client:
        run = await client.read_flow_run(run_id)
        base = Resumption("ignorada", "", str(run_id), limite=limit)
        if run.state is None or run.state.type != StateType.CRASHED:
            base.motivo = f"a execução está {run.state.name if run.state else 'sem estado'}"
            return base
        if run.deployment_id is None:
            base.motivo = "execução sem implantação: não há de onde reexecutar"
            return base
        dep = await client.read_deployment(run.deployment_id)
        if not (dep.entrypoint or "").startswith("flows/"):
            base.motivo = f"implantação {dep.name} não é do contab"
            return base
        done = resumption_number(run.tags)
        if done >= limit:
            base.acao, base.retomada = "limite-atingido", done
            base.motivo = (
                f"já retomada {done} vez(es) seguidas e interrompida de novo: "
                "fica Crashed para análise do operador"
            )
            return base
        number = done + 1
        new = await client.create_flow_run_from_deployment(
            dep.id,
            parameters=dict(run.parameters or {}),
            job_variables=dict(run.job_variables or {}) or None,
            tags=[RESUMED_TAG, f"{RESUMED_TAG}-{number}"],
            name=f"{_NAME_SUFFIX.sub('', run.name)}-{RESUMED_TAG}-{number}",
            idempotency_key=f"{RESUMED_TAG}-{run.id}",
        )
        return Resumption(
            "retomada",
            f"retomada {number} de no máximo {limit}",
            str(run.id),
            str(new.id),
            number,
            limit,
        )
