"""Indexed fiscal documents: list, detail, signed download, audited removal (office only)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from app.api.deps import CurrentPrincipal, DbSession
from app.api.scope import ensure_visible
from app.documents.admin import (
    delete_document,
    document_download_url,
    get_document,
    list_documents,
)
from app.errors import MISSING_DOCUMENTO
from app.fiscal.competencia import Competencia
from app.platform.tokens import require_office
from app.settings import get_settings
from app.storage import get_storage
from models import FiscalEvent

router = APIRouter(tags=["documentos"])


class DocumentoOut(BaseModel):
    """An indexed document as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    empresa_id: int
    chave: str
    kind: str
    modelo: str | None
    serie: str | None
    numero: str | None
    issued_at: datetime | None
    competencia: str | None
    direction: str
    emitter_doc: str | None
    emitter_name: str | None
    recipient_doc: str | None
    recipient_name: str | None
    total: Decimal | None
    totals: dict[str, Any]
    item_count: int
    cfops: list[Any]
    protocol: str | None
    cstat: str | None
    status: str
    validation_status: str
    warnings: list[Any]
    cancelled_at: datetime | None


class EventoOut(BaseModel):
    """An event of a document."""

    model_config = ConfigDict(from_attributes=True)

    tp_evento: str
    n_seq: int
    cstat: str | None
    event_at: datetime | None
    protocol: str | None
    details: dict[str, Any]
    applied_at: datetime | None


class DocumentoDetalhe(DocumentoOut):
    """A document with its events."""

    eventos: list[EventoOut] = []


class DownloadOut(BaseModel):
    """A signed, expiring link."""

    url: str
    expira_em_segundos: int


@router.get("/api/documentos", response_model=list[DocumentoOut])
def list_documentos(
    principal: CurrentPrincipal,
    session: DbSession,
    empresa_id: int | None = None,
    competencia: Annotated[str | None, Query(description="AAAA-MM")] = None,
    status: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Any:
    """Documents of an empresa (client tokens: always their own)."""
    if not principal.is_office:
        empresa_id = empresa_id or principal.empresa_id
    if empresa_id is not None:
        principal.check_empresa(empresa_id)
    comp = str(Competencia.parse(competencia)) if competencia else None  # 422 competencia_invalida
    return list_documents(
        session, empresa_id=empresa_id, competencia=comp, status=status, limit=limit, offset=offset
    )


@router.get("/api/documentos/{document_id}", response_model=DocumentoDetalhe)
def get_documento(document_id: int, principal: CurrentPrincipal, session: DbSession) -> Any:
    """One document and its events."""
    doc = get_document(session, document_id=document_id)
    ensure_visible(principal, doc.empresa_id, MISSING_DOCUMENTO)
    events = session.scalars(
        select(FiscalEvent)
        .where(FiscalEvent.empresa_id == doc.empresa_id, FiscalEvent.chave == doc.chave)
        .order_by(FiscalEvent.tp_evento, FiscalEvent.n_seq)
    ).all()
    out = DocumentoDetalhe.model_validate(doc)
    out.eventos = [EventoOut.model_validate(e) for e in events]
    return out


@router.get("/api/documentos/{document_id}/download", response_model=DownloadOut)
def download_documento(document_id: int, principal: CurrentPrincipal, session: DbSession) -> Any:
    """A signed URL of the stored XML that expires (files are never public, guide §8)."""
    ttl = get_settings().SIGNED_URL_TTL_SECONDS
    doc = get_document(session, document_id=document_id)
    ensure_visible(principal, doc.empresa_id, MISSING_DOCUMENTO)
    url, _ = document_download_url(
        session, storage=get_storage(), document_id=document_id, expires_in=ttl
    )
    return DownloadOut(url=url, expira_em_segundos=ttl)


@router.delete("/api/documentos/{document_id}")
def delete_documento(
    document_id: int,
    principal: CurrentPrincipal,
    session: DbSession,
    motivo: Annotated[str, Query(description="Motivo da exclusão (auditado)")] = "",
) -> dict[str, Any]:
    """Remove a document from the index (office only, audited; file kept under retention)."""
    require_office(principal)
    return delete_document(
        session, storage=get_storage(), document_id=document_id, actor=principal.actor,
        reason=motivo,
    )  # fmt: skip
