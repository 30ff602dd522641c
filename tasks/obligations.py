"""Prefect glue for obligations and tarefas: one transaction per task, one task per chunk."""

from __future__ import annotations

from datetime import date

from prefect import task

from app.db import session_scope
from app.fiscal.competencia import Competencia
from app.obligations.calendar import is_business_day, load_holiday_index
from app.obligations.catalogue import reconcile_assignments, sync_catalogue
from app.obligations.tarefas import empresa_chunks, generate_tarefas, refresh_statuses
from tasks.defaults import TASK_DEFAULTS


@task(name="sincronizar-catalogo-de-obrigacoes", **TASK_DEFAULTS)
def sync_catalogue_task() -> dict[str, int]:
    """Load the shipped obligation catalogue into the database (idempotent)."""
    with session_scope() as session:
        return sync_catalogue(session)


@task(name="listar-lotes-de-empresas", **TASK_DEFAULTS)
def empresa_chunks_task(empresa_ids: list[int] | None, chunk_size: int) -> list[list[int]]:
    """Active empresa ids in chunks."""
    with session_scope() as session:
        return empresa_chunks(session, chunk_size=chunk_size, empresa_ids=empresa_ids)


@task(name="gerar-tarefas-do-lote", **TASK_DEFAULTS)
def generate_chunk_task(
    empresa_ids: list[int], competencias: list[str], effective: str
) -> dict[str, int]:
    """Attach missing automatic obligations, then create the chunk's tarefas."""
    comps = [Competencia.parse(c) for c in competencias]
    with session_scope() as session:
        attached = reconcile_assignments(
            session, empresa_ids=empresa_ids, effective=Competencia.parse(effective)
        )
        created = generate_tarefas(session, empresa_ids=empresa_ids, competencias=comps)
    return {"empresas": len(empresa_ids), "obrigacoes_atribuidas": attached, "tarefas": created}


@task(name="atualizar-situacao-das-tarefas", **TASK_DEFAULTS)
def refresh_chunk_task(empresa_ids: list[int], today: str) -> dict[str, int]:
    """Move the chunk's open tarefas to a_vencer/vencida and queue staff alerts."""
    with session_scope() as session:
        return refresh_statuses(
            session,
            today=date.fromisoformat(today),
            empresa_ids=empresa_ids,
            holidays=load_holiday_index(session),
        )


@task(name="verificar-dia-util", **TASK_DEFAULTS)
def is_business_day_task(today: str) -> bool:
    """Whether the office works on ``today`` (every daily job asks this one question)."""
    with session_scope() as session:
        return is_business_day(session, date.fromisoformat(today))
