"""Uploads of fiscal XMLs (one or many files, or a .zip) for an empresa; per-file results.

The files are stored and recorded in one transaction that commits *before* the processing is
announced to the upload dispatcher (``app.documents.dispatch``), so a run always finds them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Query, UploadFile
from pydantic import BaseModel, Field

from app.api.deps import CurrentPrincipal, DbSession, Page, Paging, paging
from app.api.schemas import Pagina, page, pt_keys
from app.api.scope import empresa_filter
from app.api.visible import VisibleUpload
from app.db import session_scope
from app.documents.admin import upload_file_download_url
from app.documents.dispatch import announce
from app.documents.queries import uploads_page
from app.documents.reception import IncomingFile, UploadLimits, accept_upload, upload_status
from app.documents.upload_access import check_file_download, senders_shown
from app.settings import get_settings
from app.storage import get_storage

router = APIRouter(tags=["uploads"])
FilePage = Annotated[Paging, Depends(paging(default=1000, maximum=5000))]


class UploadAccepted(BaseModel):
    """Answer of an accepted upload."""

    upload_id: int
    # the Prefect flow run; null at acceptance: filled in (GET /uploads/{id}) when a processing
    # run picks it up
    execucao_id: str | None
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
    execucao_id: str | None = Field(description="A execução (flow run) do Prefect que o processou.")
    arquivos: int
    enviado_por: str
    criado_em: datetime
    concluido_em: datetime | None
    resumo: dict[str, Any]

    @classmethod
    def of(cls, u: Any, sender: str, **extra: Any) -> Any:
        """From an ``Upload`` row and the sender the caller may see."""
        return cls(
            id=u.id, empresa_id=u.empresa_id, status=u.status, execucao_id=u.flow_run_id,
            arquivos=u.file_count, enviado_por=sender, criado_em=u.created_at,
            concluido_em=u.finished_at, resumo=pt_keys(u.summary), **extra,
        )  # fmt: skip


class UploadOut(UploadSummaryOut):
    """An upload with its per-file results (one page of them: ``limite``/``deslocamento``)."""

    por_status: dict[str, int]
    resultados: list[UploadFileOut]


class DownloadOut(BaseModel):
    """A signed, expiring link."""

    url: str
    expira_em_segundos: int


@router.post("/empresas/{empresa_id}/uploads", status_code=202, response_model=UploadAccepted)
def create_upload(
    empresa_id: int,
    principal: CurrentPrincipal,
    arquivos: Annotated[list[UploadFile], File(description="XMLs e/ou .zip de XMLs")],
) -> UploadAccepted:
    """Store the files, record the upload and start its processing (202)."""
    principal.check_empresa(empresa_id)
    s = get_settings()
    files = (
        IncomingFile(f.filename or "arquivo", f.content_type or "application/octet-stream", f.file)
        for f in arquivos
    )
    with session_scope() as session:  # committed before the processing starts
        got = accept_upload(
            session,
            storage=get_storage(),
            empresa_id=empresa_id,
            uploaded_by=principal.actor,
            files=files,
            limits=UploadLimits(s.UPLOAD_MAX_FILE_BYTES, s.UPLOAD_MAX_TOTAL_BYTES),
        )
    announce(got.id)  # a Redis wake-up for the dispatcher; no orchestrator call here
    return UploadAccepted(upload_id=got.id, execucao_id=None, arquivos=got.file_count)


@router.get("/uploads/{upload_id}", response_model=UploadOut)
def get_upload(
    up: VisibleUpload, principal: CurrentPrincipal, session: DbSession, paging: FilePage
) -> UploadOut:
    """An upload's status and per-file results (paged)."""
    st = upload_status(session, upload_id=up.id, limit=paging.limite, offset=paging.deslocamento)
    sender = senders_shown(session, [up], viewer_is_office=principal.is_office)[up.id]
    out: UploadOut = UploadOut.of(
        up,
        sender,
        por_status=st["counts"],
        resultados=[
            UploadFileOut(
                posicao=f.position,
                nome=f.original_name,
                status=f.status,
                erro_codigo=f.error_code,
                erro_mensagem=f.error_message,
                avisos=pt_keys(f.warnings),
                documento_id=f.document_id,
                chave=chave,
            )
            for f, chave in st["files"]
        ],
    )
    return out


@router.get("/uploads", response_model=Pagina[UploadSummaryOut])
def list_uploads_route(
    principal: CurrentPrincipal,
    session: DbSession,
    paging: Page,
    empresa_id: int | None = None,
    status: Annotated[str | None, Query(max_length=25)] = None,
) -> Pagina[UploadSummaryOut]:
    """Uploads, newest first (client tokens: always their own empresa's)."""
    total, rows = uploads_page(
        session,
        empresa_id=empresa_filter(principal, empresa_id),
        status=status,
        limit=paging.limite,
        offset=paging.deslocamento,
    )
    senders = senders_shown(session, rows, viewer_is_office=principal.is_office)
    return page([UploadSummaryOut.of(u, senders[u.id]) for u in rows], total, paging)


@router.get("/uploads/{upload_id}/arquivos/{posicao}/download", response_model=DownloadOut)
def download_upload_file(
    up: VisibleUpload, posicao: int, principal: CurrentPrincipal, session: DbSession
) -> DownloadOut:
    """A signed, expiring URL of one uploaded file as received (quarantined ones included);
    a client only for uploads the empresa's own people sent."""
    check_file_download(session, up, viewer_is_office=principal.is_office)
    ttl = get_settings().SIGNED_URL_TTL_SECONDS
    url = upload_file_download_url(
        session, storage=get_storage(), upload_id=up.id, position=posicao, expires_in=ttl
    )
    return DownloadOut(url=url, expira_em_segundos=ttl)
