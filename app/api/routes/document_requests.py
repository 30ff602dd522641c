"""Monthly document requests: see them, attach files to items, answer "nada a enviar" or
"faltam documentos". A client token acts only on its own empresa's requests."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, File, UploadFile
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from app.api.deps import CurrentPrincipal, DbSession, Page
from app.api.forms import read_files
from app.api.schemas import Pagina, page
from app.api.scope import empresa_filter
from app.api.visible import VisibleRequest
from app.document_requests.queries import RequestWithItems, requests_page
from app.document_requests.service import (
    answer_nothing_to_send,
    attach_file,
    get_request,
    report_missing,
)
from app.fiscal.competencia import Competencia

router = APIRouter(tags=["solicitacoes"])
MAX_FILES_PER_CALL = 50


class ItemOut(BaseModel):
    """One requested item."""

    codigo: str
    descricao: str
    situacao: str
    recebido_em: datetime | None
    arquivo_id: int | None


class SolicitacaoOut(BaseModel):
    """A monthly request with its items."""

    id: int
    empresa_id: int
    competencia: str
    situacao: str
    lembretes_enviados: int
    encerrada_em: datetime | None
    observacao: str | None
    itens: list[ItemOut] = []


class ObservacaoIn(BaseModel):
    """A free-text note from the client."""

    observacao: str | None = Field(default=None, max_length=2000)


class FaltamIn(ObservacaoIn):
    """Which items are missing (all when omitted)."""

    itens: list[str] | None = None


def _out(request: RequestWithItems) -> SolicitacaoOut:
    req, items = request
    return SolicitacaoOut(
        id=req.id,
        empresa_id=req.empresa_id,
        competencia=req.competencia,
        situacao=req.status,
        lembretes_enviados=req.reminders_sent,
        encerrada_em=req.closed_at,
        observacao=req.client_note,
        itens=[
            ItemOut(
                codigo=i.code,
                descricao=i.description,
                situacao=i.status,
                recebido_em=i.received_at,
                arquivo_id=i.file_id,
            )
            for i in items
        ],
    )


def _current(session: Session, request_id: int) -> SolicitacaoOut:
    return _out(get_request(session, request_id=request_id))


@router.get("/solicitacoes", response_model=Pagina[SolicitacaoOut])
def list_route(
    principal: CurrentPrincipal,
    session: DbSession,
    paging: Page,
    empresa_id: int | None = None,
    competencia: str | None = None,
    situacao: str | None = None,
) -> Pagina[SolicitacaoOut]:
    """Requests visible to the caller, newest competência first, with their items."""
    total, rows = requests_page(
        session,
        empresa_id=empresa_filter(principal, empresa_id),
        competencia=Competencia.parse(competencia) if competencia else None,
        status=situacao,
        limit=paging.limite,
        offset=paging.deslocamento,
    )
    return page([_out(r) for r in rows], total, paging)


@router.get("/solicitacoes/{request_id}", response_model=SolicitacaoOut)
def get_route(req: VisibleRequest, session: DbSession) -> SolicitacaoOut:
    """One request with its items."""
    return _current(session, req.id)


@router.post("/solicitacoes/{request_id}/itens/{codigo}/arquivos", response_model=SolicitacaoOut)
def attach_route(
    req: VisibleRequest,
    codigo: str,
    principal: CurrentPrincipal,
    session: DbSession,
    arquivos: Annotated[list[UploadFile], File()],
) -> SolicitacaoOut:
    """Attach one or more files to an item (stored once per content); the item is received."""
    files = read_files(
        arquivos,
        max_files=MAX_FILES_PER_CALL,
        too_many=f"Envie no máximo {MAX_FILES_PER_CALL} arquivos por vez.",
    )
    for upload, data in files:
        attach_file(
            session,
            request_id=req.id,
            item_code=codigo,
            data=data,
            filename=upload.filename or "arquivo",
            content_type=upload.content_type or "application/octet-stream",
            actor=principal.actor,
        )
    return _current(session, req.id)


@router.post("/solicitacoes/{request_id}/nada-a-enviar", response_model=SolicitacaoOut)
def nothing_route(
    req: VisibleRequest, body: ObservacaoIn, principal: CurrentPrincipal, session: DbSession
) -> SolicitacaoOut:
    """The client has nothing to send this month: the request closes."""
    answer_nothing_to_send(session, request_id=req.id, actor=principal.actor, note=body.observacao)
    return _current(session, req.id)


@router.post("/solicitacoes/{request_id}/faltam-documentos", response_model=SolicitacaoOut)
def missing_route(
    req: VisibleRequest, body: FaltamIn, principal: CurrentPrincipal, session: DbSession
) -> SolicitacaoOut:
    """Documents are missing: the items go back to pending and the request reopens."""
    report_missing(
        session,
        request_id=req.id,
        actor=principal.actor,
        note=body.observacao,
        item_codes=body.itens,
    )
    return _current(session, req.id)
