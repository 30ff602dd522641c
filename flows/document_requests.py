"""`gerar-solicitacoes-mensais` and `verificar-documentos-pendentes` (guide §6.1, §7), default pool.

`gerar-solicitacoes-mensais` is scheduled daily at 06:00 and acts from the day the office
configures (office_settings ``dia_solicitacoes_mensais`` = {"dia": N}, default 1; clamped to the
month's last day) on: it creates the requests of the closed month (competência M-1). Because
creation is idempotent per (empresa, competência), running on every later day of the month only
catches up — after downtime, or for empresas registered after the day — and sends nothing twice.
``force`` acts on any day.

`verificar-documentos-pendentes` runs on weekdays and skips non-business days itself: it matches
arrived documents to items, closes complete requests and queues due reminders. A late run
computes from the day it runs; reminders are keyed by their number, so nothing is duplicated.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from prefect import flow, get_run_logger, unmapped

from app.fiscal.competencia import Competencia
from app.settings import get_settings
from tasks.defaults import flow_defaults, run_day
from tasks.document_requests import (
    generate_requests_task,
    monthly_day_task,
    refresh_requests_task,
    seed_templates_task,
    send_reminders_task,
)
from tasks.obligations import empresa_chunks_task, is_business_day_task


def _now_for(hoje: str | None) -> datetime:
    """Now, or noon of the run's day in the office timezone (``hoje`` runs a given day)."""
    if not hoje:
        return datetime.now(UTC)
    tz = ZoneInfo(get_settings().OFFICE_TIMEZONE)
    return datetime.combine(run_day(hoje), time(12), tzinfo=tz)


@flow(name="gerar-solicitacoes-mensais", log_prints=False, **flow_defaults(1800))
def generate_monthly_requests_flow(
    competencia: str | None = None,
    force: bool = False,
    hoje: str | None = None,
    empresa_ids: list[int] | None = None,
    chunk_size: int = 2000,
) -> dict[str, Any]:
    """Create each empresa's monthly request (closed month by default), once."""
    now = _now_for(hoje)
    today = run_day(hoje)
    day = monthly_day_task(today.isoformat())
    if not force and not day["alcancado"]:
        get_run_logger().info("Solicitações só a partir do dia %s (hoje %s).", day["dia"], today)
        return {"dia": today.isoformat(), "pulado": True}
    comp = Competencia.parse(competencia) if competencia else Competencia.of(today).prev()
    seeded = seed_templates_task()
    chunks = empresa_chunks_task(empresa_ids, chunk_size)
    futures = generate_requests_task.map(chunks, unmapped(str(comp)), unmapped(now.isoformat()))
    totals: dict[str, int] = {}
    for f in futures:
        for k, v in f.result().items():
            totals[k] = totals.get(k, 0) + v
    get_run_logger().info("Solicitações de %s: %s", comp.label, totals)
    return {"competencia": str(comp), "modelos_novos": seeded, "pulado": False, **totals}


@flow(name="verificar-documentos-pendentes", log_prints=False, **flow_defaults(900))
def check_pending_documents_flow(
    hoje: str | None = None, force: bool = False, chunk_size: int = 2000
) -> dict[str, Any]:
    """Mark received items, close complete requests, queue due reminders."""
    now = _now_for(hoje)
    today = run_day(hoje)
    if not force and not is_business_day_task(today.isoformat()):
        get_run_logger().info("%s não é dia útil: nada a fazer.", today.isoformat())
        return {"dia": today.isoformat(), "pulado": True}
    refreshed = refresh_requests_task(now.isoformat())
    chunks = empresa_chunks_task(None, chunk_size)
    futures = send_reminders_task.map(chunks, unmapped(now.isoformat()))
    reminders = sum(f.result() for f in futures)
    get_run_logger().info("Documentos: %s; lembretes: %s", refreshed, reminders)
    return {"dia": today.isoformat(), "pulado": False, **refreshed, "lembretes": reminders}
