"""Path-object dependencies: the object an id names, when the caller may see it.

Each one answers 404 — the code and message of a missing id — both for an id that does not
exist and, to a client token, for another empresa's object (``app.api.scope``). The empresa
is checked *before* a lookup whenever the id is the empresa's own, and before a request's items
load, so another empresa's id costs what a missing one does.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from app.api.deps import CurrentPrincipal, DbSession
from app.api.scope import ensure_visible, visible
from app.document_requests.service import request_row
from app.documents.admin import get_document
from app.documents.queries import get_upload
from app.empresas.queries import get_empresa
from app.errors import (
    MISSING_DOCUMENTO,
    MISSING_EMPRESA,
    MISSING_GUIA,
    MISSING_SOLICITACAO,
    MISSING_TAREFA,
    MISSING_UPLOAD,
)
from app.guides.queries import get_guide
from app.obligations.tarefas import TarefaView, get_tarefa
from models import DocumentRequest, Empresa, FiscalDocument, Guide, Upload

__all__ = [
    "VisibleDocument",
    "VisibleEmpresa",
    "VisibleGuide",
    "VisibleRequest",
    "VisibleTarefa",
    "VisibleUpload",
]


def _empresa(empresa_id: int, principal: CurrentPrincipal, session: DbSession) -> Empresa:
    ensure_visible(principal, empresa_id, MISSING_EMPRESA)
    return get_empresa(session, empresa_id=empresa_id)


def _document(document_id: int, principal: CurrentPrincipal, session: DbSession) -> FiscalDocument:
    return visible(principal, get_document(session, document_id=document_id), MISSING_DOCUMENTO)


def _upload(upload_id: int, principal: CurrentPrincipal, session: DbSession) -> Upload:
    return visible(principal, get_upload(session, upload_id=upload_id), MISSING_UPLOAD)


def _guide(guide_id: int, principal: CurrentPrincipal, session: DbSession) -> Guide:
    return visible(principal, get_guide(session, guide_id=guide_id), MISSING_GUIA)


def _tarefa(tarefa_id: int, principal: CurrentPrincipal, session: DbSession) -> TarefaView:
    view = get_tarefa(session, tarefa_id=tarefa_id)
    ensure_visible(principal, view.tarefa.empresa_id, MISSING_TAREFA)
    return view


def _request(request_id: int, principal: CurrentPrincipal, session: DbSession) -> DocumentRequest:
    return visible(principal, request_row(session, request_id=request_id), MISSING_SOLICITACAO)


VisibleEmpresa = Annotated[Empresa, Depends(_empresa)]
VisibleDocument = Annotated[FiscalDocument, Depends(_document)]
VisibleUpload = Annotated[Upload, Depends(_upload)]
VisibleGuide = Annotated[Guide, Depends(_guide)]
VisibleTarefa = Annotated[TarefaView, Depends(_tarefa)]
VisibleRequest = Annotated[DocumentRequest, Depends(_request)]
