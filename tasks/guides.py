"""Guide tasks: one transaction each, IDs in, small dicts out; batches, never a task per guide."""

from __future__ import annotations

from datetime import date

from prefect import task
from sqlalchemy import select

from app.db import session_scope
from app.fiscal.competencia import Competencia
from app.guides import generation as guides
from app.guides import ledger, lifecycle, protocol
from app.platform.office_settings import GENERATION_DAY, office_day
from models import Guide
from tasks.defaults import TASK_DEFAULTS

__all__ = [
    "generate_batch",
    "generation_plan",
    "list_ready_guides",
    "mark_overdue",
    "refresh_ledger",
    "send_batch",
]


@task(name="planejar-geracao-de-guias", **TASK_DEFAULTS)
def generation_plan(today: str, competencia: str | None, force: bool) -> dict[str, object]:
    """Whether today is the office's generation day, the competência and its empresas."""
    day = date.fromisoformat(today)
    comp = Competencia.parse(competencia) if competencia else Competencia.of(day).prev()
    with session_scope() as session:
        guides.generation_day(session)  # refuses a stored day outside 1..28
        office = office_day(session, key=GENERATION_DAY, today=day)
        act = force or office.is_today
        empresas = guides.guide_empresas(session, competencia=str(comp)) if act else []
    return {"executar": act, "dia": office.day, "competencia": str(comp), "empresas": empresas}


@task(name="marcar-guias-vencidas", **TASK_DEFAULTS)
def mark_overdue(today: str) -> int:
    """Guides past due and unpaid become ``vencida``."""
    with session_scope() as session:
        return lifecycle.mark_overdue(session, today=date.fromisoformat(today))


@task(name="atualizar-livro-de-receitas", **TASK_DEFAULTS)
def refresh_ledger(competencia: str) -> dict[str, int]:
    """Recompute the ledger months (competência and the 12 before) whose documents changed."""
    comp = Competencia.parse(competencia)
    with session_scope() as session:
        res = ledger.refresh_dirty(session, start=comp.shift(-12), end=comp, actor="gerar-guias")
    return {"meses": res.pairs, "alterados": len(res.changed)}


@task(name="gerar-lote-de-guias", **TASK_DEFAULTS)
def generate_batch(competencia: str, empresa_ids: list[int]) -> dict[str, object]:
    """Create/update the guides of a batch of empresas (one bulk upsert)."""
    with session_scope() as session:
        res = guides.generate(session, competencia=competencia, empresa_ids=empresa_ids)
    return {**res.as_dict(), "falhas_detalhe": res.falhas_detalhe[:50]}


@task(name="listar-guias-prontas", **TASK_DEFAULTS)
def list_ready_guides(competencia: str | None, limit: int) -> list[int]:
    """Ids of ``pronta`` guides (never sent: sent guides are ``enviada`` or beyond)."""
    with session_scope() as session:
        q = select(Guide.id).where(Guide.status == "pronta").order_by(Guide.id).limit(limit)
        if competencia:
            q = q.where(Guide.competencia == str(Competencia.parse(competencia)))
        return list(session.scalars(q))


@task(name="enviar-lote-de-guias", **TASK_DEFAULTS)
def send_batch(guide_ids: list[int]) -> dict[str, int]:
    """Render missing PDFs and queue the messages of a batch of guides."""
    with session_scope() as session:
        return protocol.send(session, guide_ids=guide_ids)
