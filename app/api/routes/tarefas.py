"""Tarefas: the office's task board (list/filter), complete with protocol, dispense with reason.

A client token sees only its own empresa's tarefas; completing and dispensing are office actions.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, File, Query, UploadFile
from pydantic import BaseModel, Field

from app.api.deps import CurrentPrincipal, DbSession, OfficePrincipal, Page
from app.api.forms import read_file
from app.api.schemas import IsoDate, Pagina, page
from app.api.scope import empresa_filter
from app.api.visible import VisibleTarefa
from app.document_requests.service import store_file
from app.fiscal.competencia import Competencia
from app.obligations.tarefas import (
    TarefaView,
    complete_tarefa,
    dispense_tarefa,
    get_tarefa,
    list_tarefas,
)

router = APIRouter(tags=["tarefas"])


class TarefaOut(BaseModel):
    """A tarefa as the API shows it."""

    id: int
    empresa_id: int
    empresa: str
    obrigacao: str
    obrigacao_nome: str
    competencia: str
    vencimento: date
    prazo_interno: date
    situacao: str
    departamento: str
    responsavel_id: int | None
    concluida_em: datetime | None
    concluida_por: str | None
    protocolo_arquivo_id: int | None
    motivo_dispensa: str | None
    dias_uteis_de_atraso: int
    risco_de_multa: bool


class DispensaIn(BaseModel):
    """Why the tarefa does not apply this time."""

    motivo: str = Field(min_length=3, max_length=2000)


def _out(v: TarefaView) -> TarefaOut:
    t = v.tarefa
    return TarefaOut(
        id=t.id,
        empresa_id=t.empresa_id,
        empresa=v.razao_social,
        obrigacao=v.obligation_code,
        obrigacao_nome=v.obligation_name,
        competencia=t.competencia,
        vencimento=t.due_date,
        prazo_interno=t.target_date,
        situacao=t.status,
        departamento=t.department,
        responsavel_id=t.responsible_staff_id,
        concluida_em=t.completed_at,
        concluida_por=t.completed_by,
        protocolo_arquivo_id=t.protocol_file_id,
        motivo_dispensa=t.dispensed_reason,
        dias_uteis_de_atraso=t.late_business_days,
        risco_de_multa=t.fine_risk,
    )


@router.get("/tarefas", response_model=Pagina[TarefaOut])
def list_route(
    principal: CurrentPrincipal,
    session: DbSession,
    paging: Page,
    situacao: Annotated[list[str] | None, Query()] = None,
    vencimento_de: IsoDate | None = None,
    vencimento_ate: IsoDate | None = None,
    departamento: str | None = None,
    responsavel_id: int | None = None,
    empresa_id: int | None = None,
    competencia: str | None = None,
) -> Pagina[TarefaOut]:
    """Tarefas by status, due window, department, responsible, empresa (scoped to the caller)."""
    total, rows = list_tarefas(
        session,
        empresa_id=empresa_filter(principal, empresa_id),
        status=situacao or (),
        due_from=vencimento_de,
        due_until=vencimento_ate,
        department=departamento,
        responsible_staff_id=responsavel_id,
        competencia=Competencia.parse(competencia) if competencia else None,
        limit=paging.limite,
        offset=paging.deslocamento,
    )
    return page([_out(v) for v in rows], total, paging)


@router.get("/tarefas/{tarefa_id}", response_model=TarefaOut)
def get_route(view: VisibleTarefa) -> TarefaOut:
    """One tarefa (404 for a client token, as if missing, when it is another empresa's)."""
    return _out(view)


@router.post("/tarefas/{tarefa_id}/concluir", response_model=TarefaOut)
def complete_route(
    tarefa_id: int,
    principal: OfficePrincipal,
    session: DbSession,
    protocolo: Annotated[UploadFile | None, File()] = None,
) -> TarefaOut:
    """Complete a tarefa (who/when recorded), optionally attaching the protocol file."""
    view = get_tarefa(session, tarefa_id=tarefa_id)
    file_id = None
    if protocolo is not None:
        file_id = store_file(
            session,
            empresa_id=view.tarefa.empresa_id,
            data=read_file(protocolo),
            filename=protocolo.filename or "protocolo",
            content_type=protocolo.content_type or "application/octet-stream",
            purpose="protocolo",
            uploaded_by=principal.actor,
        )
    complete_tarefa(session, tarefa_id=tarefa_id, actor=principal.actor, protocol_file_id=file_id)
    return _out(get_tarefa(session, tarefa_id=tarefa_id))


@router.post("/tarefas/{tarefa_id}/dispensar", response_model=TarefaOut)
def dispense_route(
    tarefa_id: int, body: DispensaIn, principal: OfficePrincipal, session: DbSession
) -> TarefaOut:
    """Dispense a tarefa with a reason (audited)."""
    dispense_tarefa(session, tarefa_id=tarefa_id, actor=principal.actor, reason=body.motivo)
    return _out(get_tarefa(session, tarefa_id=tarefa_id))
