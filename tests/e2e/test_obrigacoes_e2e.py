"""processar-tarefas-automaticas (and the request flows) through a real worker, default pool."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from app.db import session_scope
from app.demo import load_demo_data
from app.deployments import (
    GERAR_SOLICITACOES_MENSAIS,
    PROCESSAR_TAREFAS_AUTOMATICAS,
    VALIDAR_TAREFAS_A_VENCER,
    VERIFICAR_DOCUMENTOS_PENDENTES,
)
from models import CompanyObligation, DocumentRequest, Notification, Tarefa
from tests.e2e.conftest import run_and_wait

pytestmark = pytest.mark.e2e


def _count(model: type) -> int:
    with session_scope() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_generation_runs_on_default_pool_and_is_idempotent(platform, clean_db) -> None:  # type: ignore[no-untyped-def]
    with session_scope() as s:
        load_demo_data(s)
    fr = run_and_wait(PROCESSAR_TAREFAS_AUTOMATICAS, {"competencia": "2026-06"})
    assert fr.state.name == "Completed", fr.state
    assert fr.work_pool_name == "default"
    tarefas, assigned = _count(Tarefa), _count(CompanyObligation)
    assert tarefas > 0 and assigned > 0
    with session_scope() as s:
        das = s.scalar(
            select(func.count())
            .select_from(Tarefa)
            .where(Tarefa.competencia == "2026-06", Tarefa.due_date == date(2026, 7, 20))
        )
    assert das >= 3  # the three Simples empresas' DAS of 06/2026 due on Monday 20/07/2026
    again = run_and_wait(PROCESSAR_TAREFAS_AUTOMATICAS, {"competencia": "2026-06"})
    assert again.state.name == "Completed"
    assert (_count(Tarefa), _count(CompanyObligation)) == (tarefas, assigned)

    # a holiday is skipped by the daily check; a business day moves statuses
    holiday = run_and_wait(VALIDAR_TAREFAS_A_VENCER, {"hoje": "2026-11-20"})
    assert holiday.state.name == "Completed"
    ok = run_and_wait(VALIDAR_TAREFAS_A_VENCER, {"hoje": "2026-07-21"})
    assert ok.state.name == "Completed"
    with session_scope() as s:
        overdue = s.scalar(
            select(func.count()).select_from(Tarefa).where(Tarefa.status == "vencida")
        )
        alerts = s.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.idempotency_key.like("tarefa:%:status:vencida:%"))
        )
    assert overdue and alerts


def test_monthly_requests_flows(platform, clean_db) -> None:  # type: ignore[no-untyped-def]
    with session_scope() as s:
        load_demo_data(s)
    fr = run_and_wait(GERAR_SOLICITACOES_MENSAIS, {"hoje": "2026-07-01"})
    assert fr.state.name == "Completed", fr.state
    created = _count(DocumentRequest)
    assert created > 0
    with session_scope() as s:
        comps = set(s.scalars(select(DocumentRequest.competencia)))
    assert comps == {"2026-06"}
    run_and_wait(GERAR_SOLICITACOES_MENSAIS, {"hoje": "2026-07-02"})
    assert _count(DocumentRequest) == created
    fr = run_and_wait(VERIFICAR_DOCUMENTOS_PENDENTES, {"hoje": "2026-07-06"})
    assert fr.state.name == "Completed", fr.state
    with session_scope() as s:
        reminders = s.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.idempotency_key.like("solicitacao:%:lembrete:1:%"))
        )
    assert reminders > 0
