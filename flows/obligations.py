"""`processar-tarefas-automaticas` and `validar-tarefas-a-vencer` (guide §6.1, §7), default pool.

Which competência is generated when: the monthly run on day 1 at 05:00 generates the competência
of the month it was *scheduled* for (M); its obligations fall due from M+1 on (DAS/FGTS/INSS on the
20th, eSocial on the 15th, MEI eSocial on the 7th), so every tarefa exists weeks before its first
alert threshold. Using the scheduled time (not the wall clock) means a run that starts late after
downtime still generates its own month. Backfill: ``competencia_inicio``/``competencia_fim`` (and
an optional ``empresa_ids`` filter) generate a range; only competências where an obligation was
assigned (valid_from/valid_until) produce tarefas, so the past of a regime change is never touched.
Re-running changes nothing: rows are keyed (empresa, obrigação, competência).

`validar-tarefas-a-vencer` runs on weekdays and skips non-business days itself (holidays); a late
run computes from the day it actually runs, so missed days are simply caught up.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, unmapped
from prefect.artifacts import create_table_artifact

from app.fiscal.competencia import Competencia
from tasks.defaults import flow_defaults, run_day
from tasks.obligations import (
    empresa_chunks_task,
    generate_chunk_task,
    is_business_day_task,
    refresh_chunk_task,
    sync_catalogue_task,
)


def _sum(results: list[dict[str, int]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in results:
        for k, v in r.items():
            out[k] = out.get(k, 0) + v
    return out


@flow(name="processar-tarefas-automaticas", log_prints=False, **flow_defaults(1800))
def process_automatic_tasks_flow(
    competencia: str | None = None,
    competencia_inicio: str | None = None,
    competencia_fim: str | None = None,
    empresa_ids: list[int] | None = None,
    chunk_size: int = 2000,
) -> dict[str, Any]:
    """Generate the tarefas of a competência (or a backfill range) for every active empresa."""
    if competencia_inicio or competencia_fim:
        start = Competencia.parse(competencia_inicio or competencia_fim or "")
        end = Competencia.parse(competencia_fim or competencia_inicio or "")
    else:
        start = end = Competencia.parse(competencia) if competencia else Competencia.of(run_day())
    comps = [str(c) for c in Competencia.range(start, end)]
    sync = sync_catalogue_task()
    chunks = empresa_chunks_task(empresa_ids, chunk_size)
    futures = generate_chunk_task.map(chunks, unmapped(comps), unmapped(str(start)))
    totals = _sum([f.result() for f in futures])
    summary: dict[str, Any] = {"competencias": comps, "catalogo": sync, **totals}
    get_run_logger().info("Tarefas geradas: %s", summary)
    create_table_artifact(
        key="processar-tarefas-automaticas",
        table=[{"item": k, "valor": str(v)} for k, v in summary.items()],
        description=f"Competências {comps[0]} a {comps[-1]}",
    )
    return summary


@flow(name="validar-tarefas-a-vencer", log_prints=False, **flow_defaults(900))
def validate_due_tasks_flow(
    hoje: str | None = None, force: bool = False, chunk_size: int = 2000
) -> dict[str, Any]:
    """Move tarefas to a vencer / vencida by business days and queue the staff alerts."""
    today = run_day(hoje)
    if not force and not is_business_day_task(today.isoformat()):
        get_run_logger().info("%s não é dia útil: nada a fazer.", today.isoformat())
        return {"dia": today.isoformat(), "pulado": True}
    chunks = empresa_chunks_task(None, chunk_size)
    futures = refresh_chunk_task.map(chunks, unmapped(today.isoformat()))
    totals = _sum([f.result() for f in futures])
    get_run_logger().info("Situação das tarefas em %s: %s", today.isoformat(), totals)
    return {"dia": today.isoformat(), "pulado": False, **totals}
