"""Read side of documents and uploads: pages with their totals, one object or its 404."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.errors import MISSING_UPLOAD
from app.paging import fetch_page
from models import FiscalDocument, FiscalEvent, Upload, UploadFile

__all__ = [
    "document_events",
    "documents_page",
    "files_by_status",
    "get_upload",
    "uploads_page",
]


def documents_page(
    session: Session,
    *,
    empresa_id: int | None,
    competencia: str | None = None,
    status: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[int, list[FiscalDocument]]:
    """Documents by empresa / competência / status, most recent first, and their total."""
    q = select(FiscalDocument)
    if empresa_id is not None:
        q = q.where(FiscalDocument.empresa_id == empresa_id)
    if competencia:
        q = q.where(FiscalDocument.competencia == competencia)
    if status:
        q = q.where(FiscalDocument.status == status)
    q = q.order_by(FiscalDocument.issued_at.desc().nulls_last(), FiscalDocument.id.desc())
    return fetch_page(session, q, limit=limit, offset=offset)


def document_events(session: Session, *, document: FiscalDocument) -> list[FiscalEvent]:
    """The events (cancellation, CC-e …) recorded for a document's chave."""
    return list(
        session.scalars(
            select(FiscalEvent)
            .where(
                FiscalEvent.empresa_id == document.empresa_id,
                FiscalEvent.chave == document.chave,
            )
            .order_by(FiscalEvent.tp_evento, FiscalEvent.n_seq)
        )
    )


def get_upload(session: Session, *, upload_id: int) -> Upload:
    """One upload; NotFound (``upload_nao_encontrado``) when absent."""
    row = session.get(Upload, upload_id)
    if row is None:
        raise MISSING_UPLOAD.error()
    return row


def files_by_status(session: Session, *, upload_id: int) -> dict[str, int]:
    """How many of an upload's files are in each status (``pendente``, ``indexado`` …)."""
    q = (
        select(UploadFile.status, func.count())
        .where(UploadFile.upload_id == upload_id)
        .group_by(UploadFile.status)
    )
    return dict(session.execute(q).tuples().all())


def uploads_page(
    session: Session,
    *,
    empresa_id: int | None,
    status: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[int, list[Upload]]:
    """Uploads, newest first, optionally of one empresa and/or in one status, and their total."""
    q = select(Upload)
    if empresa_id is not None:
        q = q.where(Upload.empresa_id == empresa_id)
    if status:
        q = q.where(Upload.status == status)
    return fetch_page(session, q.order_by(Upload.id.desc()), limit=limit, offset=offset)
