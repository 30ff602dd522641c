"""Indexed documents: list, signed downloads (documents and uploaded files), audited removal,
re-validation (guide §6.1, §8).

Removal decision: ``DELETE`` removes the document from the index (a full snapshot goes into the
audit row: who, when, why) but never the stored XML while it is under retention
(``stored_files.retention_until``, 7 years — DOMAIN.md "Retention", CTN arts. 173/174). Only a
file whose retention has ended is removed from storage too (``stored_files.deleted_at``, audited).
Events stay in ``fiscal_events``, so re-uploading the file restores the same state.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.documents.events import apply_pending_events
from app.documents.rows import validation_record, validation_status
from app.errors import MISSING_DOCUMENTO, InvalidDocument, InvalidInput, NotFound, StorageError
from app.files.content import (
    ContentReader,
    ContentRef,
    gone_code,
    materialize,
    refs_for,
    shared_reader,
)
from app.fiscal.nfe import parse_bytes, validate
from app.platform import audit
from app.storage.base import Storage
from models import FiscalDocument, StoredFile, UploadFile

__all__ = [
    "delete_document",
    "document_download_url",
    "get_document",
    "revalidate_batch",
    "upload_file_download_url",
]

MIN_REASON = 10


def get_document(session: Session, *, document_id: int) -> FiscalDocument:
    """One document; NotFound when absent."""
    doc = session.get(FiscalDocument, document_id)
    if doc is None:
        raise MISSING_DOCUMENTO.error()
    return doc


def _signed_url(
    session: Session, storage: Storage, stored: StoredFile | None, *, filename: str, expires_in: int
) -> str:
    """A signed, expiring URL of a stored file (a zip member first gets its own object)."""
    if stored is None or stored.deleted_at is not None:
        raise NotFound("Arquivo não encontrado no armazenamento.", code="arquivo_nao_encontrado")
    try:
        materialize(session, storage, stored)  # a zip member gets its own object once
    except StorageError as exc:
        raise NotFound("Arquivo não encontrado no armazenamento.", code=gone_code(exc)) from exc
    return storage.signed_url(stored.storage_key, expires_in=expires_in, filename=filename)


def document_download_url(
    session: Session, *, storage: Storage, document_id: int, expires_in: int
) -> tuple[str, FiscalDocument]:
    """A signed, expiring URL of the document's stored XML."""
    doc = get_document(session, document_id=document_id)
    stored = session.get(StoredFile, doc.stored_file_id) if doc.stored_file_id else None
    url = _signed_url(session, storage, stored, filename=f"{doc.chave}.xml", expires_in=expires_in)
    return url, doc


def upload_file_download_url(
    session: Session, *, storage: Storage, upload_id: int, position: int, expires_in: int
) -> str:
    """A signed, expiring URL of one file of an upload exactly as received — quarantined ones
    included, so an operator can see what was refused (zip members come out as their own file)."""
    row = session.scalar(
        select(UploadFile).where(UploadFile.upload_id == upload_id, UploadFile.position == position)
    )
    if row is None:
        raise NotFound("Arquivo não encontrado neste envio.", code="arquivo_nao_encontrado")
    if row.stored_file_id is None:
        raise NotFound(
            "Arquivo recusado na recepção e não armazenado (veja o motivo no envio).",
            code="sem_conteudo",
        )
    name = row.original_name.rsplit("/", 1)[-1] or "arquivo"
    stored = session.get(StoredFile, row.stored_file_id)
    return _signed_url(session, storage, stored, filename=name, expires_in=expires_in)


def _snapshot(doc: FiscalDocument) -> dict[str, Any]:
    keys = ("chave", "kind", "competencia", "status", "emitter_doc", "recipient_doc", "numero")
    out: dict[str, Any] = {k: getattr(doc, k) for k in keys}
    out["total"] = str(doc.total) if doc.total is not None else None
    out["stored_file_id"] = doc.stored_file_id
    return out


def delete_document(
    session: Session, *, storage: Storage, document_id: int, actor: str, reason: str
) -> dict[str, Any]:
    """Remove a document from the index (audited); the file stays while under retention."""
    if len((reason or "").strip()) < MIN_REASON:
        raise InvalidInput(
            f"Informe o motivo da exclusão (mínimo {MIN_REASON} caracteres).",
            code="motivo_obrigatorio",
        )
    doc = get_document(session, document_id=document_id)
    stored = session.get(StoredFile, doc.stored_file_id) if doc.stored_file_id else None
    now = datetime.now(UTC)
    retained = stored is not None and (
        stored.retention_until is None or stored.retention_until > now
    )
    snapshot = _snapshot(doc)
    session.delete(doc)
    file_removed = False
    if stored is not None and not retained and stored.deleted_at is None:
        still_used = session.scalar(
            select(FiscalDocument.id).where(
                FiscalDocument.stored_file_id == stored.id, FiscalDocument.id != document_id
            )
        )
        if still_used is None:
            storage.delete(stored.storage_key)
            stored.deleted_at = now
            file_removed = True
            audit.record(
                session, actor=actor, action="arquivo.removido", entity="stored_file",
                entity_id=stored.id, empresa_id=doc.empresa_id, reason=reason,
                # a zip member's bytes also remain inside its zip (kept as received)
                details={"storage_key": stored.storage_key, "zip_id": stored.container_id},
            )  # fmt: skip
    audit.record(
        session, actor=actor, action="documento.excluido", entity="fiscal_document",
        entity_id=document_id, empresa_id=doc.empresa_id, reason=reason.strip(),
        details={**snapshot, "arquivo_retido": retained, "arquivo_removido": file_removed},
    )  # fmt: skip
    return {"id": document_id, "arquivo_retido": retained, "arquivo_removido": file_removed}


def revalidate_batch(
    session: Session, *, storage: Storage, after_id: int = 0, limit: int = 200
) -> tuple[int | None, dict[str, int]]:
    """Re-validate documents in aviso/pendente after ``after_id``; return (last id, counts)."""
    docs = session.scalars(
        select(FiscalDocument)
        .where(
            FiscalDocument.validation_status.in_(("aviso", "pendente")),
            FiscalDocument.id > after_id,
        )
        .order_by(FiscalDocument.id)
        .limit(limit)
    ).all()
    counts: dict[str, int] = {}
    now = datetime.now(UTC)
    refs = refs_for(session, (d.stored_file_id for d in docs))
    reader = shared_reader(storage)
    for doc in docs:
        outcome = _revalidate_one(doc, reader, refs.get(doc.stored_file_id or 0), now)
        counts[outcome] = counts.get(outcome, 0) + 1
    for empresa_id in {d.empresa_id for d in docs}:
        apply_pending_events(
            session,
            empresa_id=empresa_id,
            chaves=[d.chave for d in docs if d.empresa_id == empresa_id],
        )
    return (docs[-1].id if docs else None), counts


def _revalidate_one(
    doc: FiscalDocument, reader: ContentReader, ref: ContentRef | None, now: datetime
) -> str:
    if ref is None:
        doc.validation = {**doc.validation, "revalidado_em": now.isoformat(), "erro": "sem_arquivo"}
        return "sem_arquivo"
    try:
        tree, parsed = parse_bytes(reader.read(ref))
    except (InvalidDocument, StorageError) as exc:
        doc.validation = {**doc.validation, "revalidado_em": now.isoformat(), "erro": exc.code}
        return "erro"
    parsed = validate(parsed, tree)
    record = validation_record(parsed, now) | {"revalidado_em": now.isoformat()}
    if parsed.errors:  # newly invalid (e.g. stricter schema): keep indexed, flag for review
        doc.validation_status = "pendente"
        doc.validation = record
        return "com_erros"
    doc.validation_status = validation_status(parsed)
    doc.validation = record
    doc.warnings = [w.to_dict() for w in parsed.warnings]
    return doc.validation_status
