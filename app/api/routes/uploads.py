"""Uploads of fiscal XMLs (one or many files, or a .zip) for an empresa; per-file results.

The files are stored and recorded in one transaction that commits *before* the
``processar-upload-xml`` deployment is triggered, so the worker always finds them. When the
Prefect API cannot be reached the upload is still accepted (202, ``flow_run_id`` null and an
``aviso``): the daily ``validar-documentos`` run (or an operator running it on demand) processes
every upload left in that state — nothing is lost.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, File, Query, UploadFile
from pydantic import BaseModel

from app.api.deps import CurrentPrincipal
from app.api.scope import ensure_visible
from app.db import session_scope
from app.deployments import PROCESSAR_UPLOAD_XML
from app.documents.admin import upload_file_download_url
from app.documents.reception import (
    IncomingFile,
    UploadLimits,
    list_uploads,
    mark_triggered,
    receive_upload,
    upload_status,
)
from app.errors import MISSING_UPLOAD, PermissionDenied
from app.platform.tokens import Principal, client_actors
from app.settings import get_settings
from app.storage import get_storage
from models import Upload

router = APIRouter(tags=["uploads"])
log = logging.getLogger("contab.api.uploads")
TRIGGER_WARNING = (
    "Arquivos recebidos, mas o orquestrador está indisponível: o processamento será feito "
    "automaticamente pela rotina validar-documentos."
)


class UploadAccepted(BaseModel):
    """Answer of an accepted upload."""

    upload_id: int
    flow_run_id: str | None
    arquivos: int
    aviso: str | None = None


class UploadFileOut(BaseModel):
    """Per-file result."""

    posicao: int
    nome: str
    status: str
    erro_codigo: str | None
    erro_mensagem: str | None
    avisos: list[Any]
    documento_id: int | None
    chave: str | None


class UploadSummaryOut(BaseModel):
    """An upload without its per-file results (listing)."""

    id: int
    empresa_id: int
    status: str
    flow_run_id: str | None
    arquivos: int
    enviado_por: str
    criado_em: datetime
    concluido_em: datetime | None
    resumo: dict[str, Any]


class UploadOut(UploadSummaryOut):
    """An upload with its per-file results."""

    por_status: dict[str, int]
    resultados: list[UploadFileOut]


class DownloadOut(BaseModel):
    """A signed, expiring link."""

    url: str
    expira_em_segundos: int


def _summary(u: Upload, principal: Principal, clients: set[str]) -> dict[str, Any]:
    # A client sees who sent an upload when it was one of the empresa's own (client) tokens;
    # the office's token names and ids are internal.
    sender = u.uploaded_by
    if not principal.is_office and sender not in clients:
        sender = "escritório"
    return {
        "id": u.id,
        "empresa_id": u.empresa_id,
        "status": u.status,
        "flow_run_id": u.flow_run_id,
        "arquivos": u.file_count,
        "enviado_por": sender,
        "criado_em": u.created_at,
        "concluido_em": u.finished_at,
        "resumo": u.summary,
    }


def _trigger(upload_id: int) -> tuple[str | None, str | None]:
    """Start the processing flow run; (run id, None) or (None, warning) when Prefect is down."""
    from prefect.deployments import run_deployment

    try:
        fr = run_deployment(PROCESSAR_UPLOAD_XML, parameters={"upload_id": upload_id}, timeout=0)
        return str(fr.id), None  # type: ignore[union-attr]  # sync call: a FlowRun
    except Exception as exc:  # noqa: BLE001 - any orchestrator failure: keep the upload, warn
        log.warning("upload %s recorded without a flow run: %s", upload_id, exc)
        return None, TRIGGER_WARNING


@router.post("/api/empresas/{empresa_id}/uploads", status_code=202, response_model=UploadAccepted)
def create_upload(
    empresa_id: int,
    principal: CurrentPrincipal,
    arquivos: Annotated[list[UploadFile], File(description="XMLs e/ou .zip de XMLs")],
) -> UploadAccepted:
    """Store the files, record the upload and trigger `processar-upload-xml` (202)."""
    principal.check_empresa(empresa_id)
    s = get_settings()
    files = (
        IncomingFile(f.filename or "arquivo", f.content_type or "application/octet-stream", f.file)
        for f in arquivos
    )
    with session_scope() as session:
        upload = receive_upload(
            session,
            storage=get_storage(),
            empresa_id=empresa_id,
            uploaded_by=principal.actor,
            files=files,
            limits=UploadLimits(s.UPLOAD_MAX_FILE_BYTES, s.UPLOAD_MAX_TOTAL_BYTES),
        )
        upload_id, count = upload.id, upload.file_count
    run_id, warning = _trigger(upload_id)
    with session_scope() as session:
        mark_triggered(session, upload_id=upload_id, flow_run_id=run_id, warning=warning)
    return UploadAccepted(upload_id=upload_id, flow_run_id=run_id, arquivos=count, aviso=warning)


@router.get("/api/uploads/{upload_id}", response_model=UploadOut)
def get_upload(
    upload_id: int,
    principal: CurrentPrincipal,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> UploadOut:
    """An upload's status and per-file results (paged)."""
    with session_scope() as session:
        up = session.get(Upload, upload_id)
        if up is None:
            raise MISSING_UPLOAD.error()
        ensure_visible(principal, up.empresa_id, MISSING_UPLOAD)
        st = upload_status(session, upload_id=upload_id, limit=limit, offset=offset)
        clients = client_actors(session, [up.uploaded_by])
        return UploadOut(
            **_summary(st["upload"], principal, clients),
            por_status=st["counts"],
            resultados=[
                UploadFileOut(
                    posicao=f.position,
                    nome=f.original_name,
                    status=f.status,
                    erro_codigo=f.error_code,
                    erro_mensagem=f.error_message,
                    avisos=f.warnings,
                    documento_id=f.document_id,
                    chave=chave,
                )
                for f, chave in st["files"]
            ],
        )


@router.get("/api/uploads", response_model=list[UploadSummaryOut])
def list_uploads_route(
    principal: CurrentPrincipal,
    empresa_id: int | None = None,
    status: Annotated[str | None, Query(max_length=25)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[UploadSummaryOut]:
    """Uploads, newest first (client tokens: always their own empresa's)."""
    if not principal.is_office:
        empresa_id = empresa_id or principal.empresa_id
    if empresa_id is not None:
        principal.check_empresa(empresa_id)
    with session_scope() as session:
        rows = list_uploads(
            session, empresa_id=empresa_id, status=status, limit=limit, offset=offset
        )
        clients = client_actors(session, [u.uploaded_by for u in rows])
        return [UploadSummaryOut(**_summary(u, principal, clients)) for u in rows]


@router.get("/api/uploads/{upload_id}/arquivos/{posicao}/download", response_model=DownloadOut)
def download_upload_file(upload_id: int, posicao: int, principal: CurrentPrincipal) -> DownloadOut:
    """A signed, expiring URL of one uploaded file as received (quarantined ones included).

    Client tokens only for uploads the empresa's own people sent: an upload the office made for
    the empresa may hold another empresa's documents (quarantined as foreign), which its client
    must never read.
    """
    ttl = get_settings().SIGNED_URL_TTL_SECONDS
    with session_scope() as session:
        up = session.get(Upload, upload_id)
        if up is None:
            raise MISSING_UPLOAD.error()
        ensure_visible(principal, up.empresa_id, MISSING_UPLOAD)
        if not principal.is_office and not client_actors(session, [up.uploaded_by]):
            raise PermissionDenied(
                "Arquivos de envios feitos pelo escritório só podem ser baixados pelo escritório.",
                code="somente_escritorio",
            )
        url = upload_file_download_url(
            session, storage=get_storage(), upload_id=upload_id, position=posicao, expires_in=ttl
        )
    return DownloadOut(url=url, expira_em_segundos=ttl)
