"""Indexed fiscal documents: list, detail, signed download, audited removal (office only)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from app.api.deps import CurrentPrincipal, DbSession, OfficePrincipal, Paging, paging
from app.api.schemas import Pagina, page, pt_keys
from app.api.scope import empresa_filter
from app.api.visible import VisibleDocument
from app.documents.admin import delete_document, document_download_url
from app.documents.queries import document_events, documents_page
from app.fiscal.competencia import Competencia
from app.settings import get_settings
from app.storage import get_storage

router = APIRouter(tags=["documentos"])
DocPage = Annotated[Paging, Depends(paging(maximum=1000))]


class DocumentoOut(BaseModel):
    """An indexed document as the API shows it."""

    id: int
    empresa_id: int
    chave: str
    tipo: str
    modelo: str | None
    serie: str | None
    numero: str | None
    emitido_em: datetime | None
    competencia: str | None
    direcao: str
    emitente_documento: str | None
    emitente_nome: str | None
    destinatario_documento: str | None
    destinatario_nome: str | None
    total: Decimal | None
    totais: dict[str, Any]
    quantidade_itens: int
    cfops: list[Any]
    protocolo: str | None
    cstat: str | None
    status: str
    situacao_validacao: str
    avisos: list[Any]
    cancelado_em: datetime | None

    @classmethod
    def of(cls, d: Any, **extra: Any) -> Any:
        """From a ``FiscalDocument`` row."""
        return cls(
            id=d.id, empresa_id=d.empresa_id, chave=d.chave, tipo=d.kind, modelo=d.modelo,
            serie=d.serie, numero=d.numero, emitido_em=d.issued_at, competencia=d.competencia,
            direcao=d.direction, emitente_documento=d.emitter_doc, emitente_nome=d.emitter_name,
            destinatario_documento=d.recipient_doc, destinatario_nome=d.recipient_name,
            total=d.total, totais=d.totals, quantidade_itens=d.item_count, cfops=d.cfops,
            protocolo=d.protocol, cstat=d.cstat, status=d.status,
            situacao_validacao=d.validation_status, avisos=pt_keys(d.warnings),
            cancelado_em=d.cancelled_at, **extra,
        )  # fmt: skip


class EventoOut(BaseModel):
    """An event of a document."""

    tp_evento: str
    n_seq: int
    cstat: str | None
    ocorrido_em: datetime | None
    protocolo: str | None
    detalhes: dict[str, Any]
    aplicado_em: datetime | None


class DocumentoDetalhe(DocumentoOut):
    """A document with its events."""

    eventos: list[EventoOut] = []


class DownloadOut(BaseModel):
    """A signed, expiring link."""

    url: str
    expira_em_segundos: int


class ExclusaoOut(BaseModel):
    """What the removal did: the file stays while under retention."""

    id: int
    arquivo_retido: bool
    arquivo_removido: bool


@router.get("/documentos", response_model=Pagina[DocumentoOut])
def list_documentos(
    principal: CurrentPrincipal,
    session: DbSession,
    paging: DocPage,
    empresa_id: int | None = None,
    competencia: Annotated[str | None, Query(description="AAAA-MM")] = None,
    status: str | None = None,
) -> Pagina[DocumentoOut]:
    """Documents of an empresa (client tokens: always their own)."""
    comp = str(Competencia.parse(competencia)) if competencia else None  # 422 competencia_invalida
    total, rows = documents_page(
        session,
        empresa_id=empresa_filter(principal, empresa_id),
        competencia=comp,
        status=status,
        limit=paging.limite,
        offset=paging.deslocamento,
    )
    return page([DocumentoOut.of(d) for d in rows], total, paging)


@router.get("/documentos/{document_id}", response_model=DocumentoDetalhe)
def get_documento(doc: VisibleDocument, session: DbSession) -> DocumentoDetalhe:
    """One document and its events."""
    events = [
        EventoOut(
            tp_evento=e.tp_evento,
            n_seq=e.n_seq,
            cstat=e.cstat,
            ocorrido_em=e.event_at,
            protocolo=e.protocol,
            detalhes=pt_keys(e.details),
            aplicado_em=e.applied_at,
        )  # fmt: skip
        for e in document_events(session, document=doc)
    ]
    out: DocumentoDetalhe = DocumentoDetalhe.of(doc, eventos=events)
    return out


@router.get("/documentos/{document_id}/download", response_model=DownloadOut)
def download_documento(doc: VisibleDocument, session: DbSession) -> DownloadOut:
    """A signed URL of the stored XML that expires (files are never public, guide §8)."""
    ttl = get_settings().SIGNED_URL_TTL_SECONDS
    url, _ = document_download_url(
        session, storage=get_storage(), document_id=doc.id, expires_in=ttl
    )
    return DownloadOut(url=url, expira_em_segundos=ttl)


@router.delete("/documentos/{document_id}", response_model=ExclusaoOut)
def delete_documento(
    document_id: int,
    principal: OfficePrincipal,
    session: DbSession,
    motivo: Annotated[str, Query(description="Motivo da exclusão (auditado)")] = "",
) -> ExclusaoOut:
    """Remove a document from the index (office only, audited; file kept under retention)."""
    out = delete_document(
        session, storage=get_storage(), document_id=document_id, actor=principal.actor,
        reason=motivo,
    )  # fmt: skip
    return ExclusaoOut(**out)
