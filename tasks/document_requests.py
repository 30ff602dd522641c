"""Prefect glue for monthly document requests: one transaction per task, one task per chunk."""

from __future__ import annotations

from datetime import date, datetime

from prefect import task

from app.db import session_scope
from app.document_requests.service import (
    generate_requests,
    refresh_requests,
    seed_templates,
    send_reminders,
)
from app.fiscal.competencia import Competencia
from app.platform.office_settings import MONTHLY_REQUESTS_DAY, office_day
from tasks.defaults import TASK_DEFAULTS


@task(name="semear-modelos-de-solicitacao", **TASK_DEFAULTS)
def seed_templates_task() -> int:
    """Insert the shipped request templates that are missing."""
    with session_scope() as session:
        return seed_templates(session)


@task(name="ler-dia-das-solicitacoes", **TASK_DEFAULTS)
def monthly_day_task(today: str) -> dict[str, object]:
    """The office's day for the monthly requests and whether ``today`` reached it."""
    with session_scope() as session:
        day = office_day(session, key=MONTHLY_REQUESTS_DAY, today=date.fromisoformat(today))
    return {"dia": day.day, "alcancado": day.reached}


@task(name="gerar-solicitacoes-do-lote", **TASK_DEFAULTS)
def generate_requests_task(empresa_ids: list[int], competencia: str, now: str) -> dict[str, int]:
    """Create the chunk's requests of ``competencia`` (once) and notify the clients."""
    with session_scope() as session:
        return generate_requests(
            session,
            empresa_ids=empresa_ids,
            competencia=Competencia.parse(competencia),
            now=datetime.fromisoformat(now),
        )


@task(name="conferir-documentos-recebidos", **TASK_DEFAULTS)
def refresh_requests_task(now: str) -> dict[str, int]:
    """Match arrived documents to items and close complete requests (set-based, all at once)."""
    with session_scope() as session:
        return refresh_requests(session, now=datetime.fromisoformat(now))


@task(name="enviar-lembretes-do-lote", **TASK_DEFAULTS)
def send_reminders_task(empresa_ids: list[int], now: str) -> int:
    """Queue the reminders due today for the chunk's open requests."""
    with session_scope() as session:
        return send_reminders(session, now=datetime.fromisoformat(now), empresa_ids=empresa_ids)
