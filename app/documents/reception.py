"""Receiving uploads: store each file as received (dedup by sha256), record the upload.

- Every file is stored exactly as received under ``uploads/{empresa}/{sha[:2]}/{sha}``; a file
  whose (empresa, sha256) is already recorded gets no second ``stored_files`` row.
- A .zip is stored as received and expanded one level by :mod:`app.documents.zipfiles`: each
  member becomes an ``upload_file`` whose ``stored_files`` row points into the stored zip
  (``container_id`` + ``member_name``, read by :mod:`app.files.content`) instead of an
  object of its own — a zip of 10,000 XMLs is one object write, not 10,000; a download writes
  the member's own object on first use. A bad archive becomes one quarantined ``upload_file``.
- A file above ``UPLOAD_MAX_FILE_BYTES`` is quarantined at once (``arquivo_muito_grande``); its
  content is still kept while the upload stays under ``UPLOAD_MAX_TOTAL_BYTES``. Past the total
  limit the rejection is recorded *without* content (``limite_total_excedido``, the message says
  so) — the request never grows memory or disk beyond the configured total.
- Storage first, database second (:mod:`app.documents.receiver`): every storage write has
  finished before the first statement, so the request's transaction never spans storage I/O and
  holds its connection for a few Core statements only (:func:`accept_upload`; no ORM unit of
  work on the request path: it was a third of the API's CPU per single-XML upload).
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.documents.queries import files_by_status, get_upload
from app.documents.receiver import (
    NAME_MAX,
    RECEPTION_ERRORS,
    RETENTION,
    Receiver,
    Row,
    UploadLimits,
    storage_key,
)
from app.documents.zipfiles import ZipLimits, is_zip
from app.errors import MISSING_EMPRESA, InvalidInput
from app.storage.base import Storage
from models import Upload, UploadFile

# the constraints that refuse rows of an empresa that does not exist (models' naming convention)
_EMPRESA_FKS = ("fk_stored_files_empresa_id_empresas", "fk_uploads_empresa_id_empresas")

__all__ = [
    "Accepted",
    "IncomingFile",
    "RECEPTION_ERRORS",
    "RETENTION",
    "UploadLimits",
    "accept_upload",
    "mark_triggered",
    "receive_upload",
    "storage_key",
    "upload_status",
]


@dataclass(frozen=True, slots=True)
class IncomingFile:
    """A file as the client sent it (the stream is read once, in chunks)."""

    name: str
    content_type: str
    stream: IO[bytes]


def _zip_size(name: str, stream: IO[bytes]) -> int | None:
    """The size of a zip received as a seekable file from its start (else None: read whole)."""
    if not stream.seekable() or stream.tell() != 0:
        return None
    head = stream.read(4)
    size = stream.seek(0, io.SEEK_END)
    stream.seek(0)
    return size if is_zip(name, head) else None


@dataclass(frozen=True, slots=True)
class Accepted:
    """An upload just recorded: what the request answers with."""

    id: int
    file_count: int
    summary: dict[str, Any]


def accept_upload(
    session: Session,
    *,
    storage: Storage,
    empresa_id: int,
    uploaded_by: str,
    files: Iterable[IncomingFile],
    limits: UploadLimits,
) -> Accepted:
    """Store every file (zips expanded), then record the upload and its files (Core statements
    in the session's transaction, no ORM object): the request path.

    The session is not used until every file is in storage (see the module docstring)."""
    rx = Receiver(storage, empresa_id, limits)
    zip_limits = ZipLimits(
        max_file_bytes=limits.max_file_bytes, max_total_bytes=limits.max_total_bytes
    )
    try:
        for f in files:
            name = (f.name or "arquivo").replace("\x00", "")[:NAME_MAX]
            size = _zip_size(name, f.stream)
            if size is not None and size <= rx.budget():  # kept as a file, not in memory
                rx.take_zip(name, f.stream, size, zip_limits)
                continue
            data = rx.read(f.stream) if size is None else None
            if data is None:
                rx.take(
                    Row(name, f.content_type, None, "limite_total_excedido", rx.total_message())
                )
            elif is_zip(name, data[:4]):
                rx.take_zip(name, io.BytesIO(data), len(data), zip_limits)
            else:
                rx.take(Row(name, f.content_type or "application/octet-stream", data))
            del data
    finally:
        rx.close()
    if not rx.rows:
        raise InvalidInput("Nenhum arquivo enviado.", code="upload_vazio")
    try:
        upload_id, summary = rx.record(session.connection(), uploaded_by=uploaded_by[:200])
    except IntegrityError as exc:
        # No query asks first whether the empresa exists (a round-trip per upload for a case
        # that office tokens alone can reach): its foreign keys answer, and the caller's
        # transaction is rolled back with the error.
        if any(fk in str(exc.orig) for fk in _EMPRESA_FKS):
            raise MISSING_EMPRESA.error() from exc
        raise
    return Accepted(upload_id, len(rx.rows), summary)


def receive_upload(
    session: Session,
    *,
    storage: Storage,
    empresa_id: int,
    uploaded_by: str,
    files: Iterable[IncomingFile],
    limits: UploadLimits,
) -> Upload:
    """:func:`accept_upload`, returning the recorded ``Upload`` (callers that go on with it)."""
    got = accept_upload(
        session,
        storage=storage,
        empresa_id=empresa_id,
        uploaded_by=uploaded_by,
        files=files,
        limits=limits,
    )
    return get_upload(session, upload_id=got.id)


def mark_triggered(
    session: Session, *, upload_id: int, flow_run_id: str | None, warning: str | None = None
) -> None:
    """Record the flow run that processes the upload (or why none was started)."""
    upload = get_upload(session, upload_id=upload_id)
    upload.flow_run_id = flow_run_id
    if warning:
        upload.summary = {**upload.summary, "aviso": warning}


def upload_status(
    session: Session, *, upload_id: int, limit: int = 1000, offset: int = 0
) -> dict[str, Any]:
    """The upload, counts per file status and a page of per-file results."""
    upload = get_upload(session, upload_id=upload_id)
    counts = files_by_status(session, upload_id=upload_id)
    files = session.scalars(
        select(UploadFile)
        .where(UploadFile.upload_id == upload_id)
        .order_by(UploadFile.position)
        .limit(limit)
        .offset(offset)
    ).all()
    from models import FiscalDocument  # local: keeps the import list of this module short

    chaves = dict(
        session.execute(
            select(FiscalDocument.id, FiscalDocument.chave).where(
                FiscalDocument.id.in_([f.document_id for f in files if f.document_id])
            )
        )
        .tuples()
        .all()
    )
    return {
        "upload": upload,
        "counts": counts,
        "files": [(f, chaves.get(f.document_id or 0)) for f in files],
    }
