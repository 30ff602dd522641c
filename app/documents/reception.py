"""Receiving uploads: store each file as received (dedup by sha256), record the upload.

Decisions (issue 3, item 1/6):
- Every file is stored exactly as received under ``uploads/{empresa}/{sha[:2]}/{sha}``; a file
  whose (empresa, sha256) is already stored is not stored again (``stored_files`` unique key).
- A .zip is stored as received and expanded one level by :mod:`app.documents.zipfiles`: each
  member becomes an ``upload_file`` whose ``stored_files`` row points into the stored zip
  (``container_id`` + ``member_name``, read by :mod:`app.files.content`) instead of an
  object of its own — a zip of 10,000 XMLs is one object write, not 10,000; a download writes
  the member's own object on first use. A bad archive becomes one quarantined ``upload_file``.
- A file above ``UPLOAD_MAX_FILE_BYTES`` is quarantined at once (``arquivo_muito_grande``); its
  content is still kept while the upload stays under ``UPLOAD_MAX_TOTAL_BYTES``. Past the total
  limit the rejection is recorded *without* content (``limite_total_excedido``, the message says
  so) — the request never grows memory or disk beyond the configured total.
- Work is flushed in chunks of 500 files: one array-parameter statement per table and chunk
  (``INSERT … SELECT … FROM unnest(…)``), so a zip of 10,000 XMLs costs a few dozen statements.
  Each chunk's statements run on a second thread while the next chunk is expanded and hashed
  (PostgreSQL works while Python does), storage writes on a few threads (disk and S3 writes are
  I/O); every statement and write has finished before the transaction commits. Memory stays bounded
  by two chunks of expanded files plus the received zip itself (``Storage.put`` takes bytes).
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import IO, Any, cast

from sqlalchemy import Table, func, select, text
from sqlalchemy.orm import Session

from app.documents.bulk import recordset, rows_json
from app.documents.zipfiles import ZipEntry, ZipLimits, is_zip, iter_zip
from app.errors import MISSING_EMPRESA, MISSING_UPLOAD, InvalidInput
from app.storage.base import Storage
from models import Empresa, StoredFile, Upload, UploadFile

__all__ = [
    "IncomingFile",
    "RETENTION",
    "UploadLimits",
    "list_uploads",
    "mark_triggered",
    "receive_upload",
    "storage_key",
    "upload_status",
]

# Office policy: 7 years (DOMAIN.md "Retention"; CTN arts. 173/174 require 5 + the current year).
RETENTION = timedelta(days=7 * 366)
_CHUNK = 500
_READ = 1024 * 1024
_NAME_MAX = 255
_PUT_THREADS = 8
_SF = cast(Table, StoredFile.__table__)
_SF_COLUMNS = (
    "empresa_id", "sha256", "size", "content_type", "original_name", "storage_key", "purpose",
    "uploaded_by", "retention_until", "container_id", "member_name", "member_offset",
    "member_csize", "member_method",
)  # fmt: skip
# The hashes as one JSON parameter (a text[] parameter is dumped element by element in Python),
# each probed on the unique index by a LATERAL ... LIMIT 1 (which the planner cannot turn into a
# scan). "sha256 = ANY(array)" was planned as a sequential scan once psycopg prepared the
# statement (its generic plan is fixed while the table is still small, and stored_files grows
# within the reception's own transaction): 20,000 files took 8.5 s instead of 3.7 s, each
# 500-file chunk's lookup growing to 260 ms; this form stays at ~2 ms.
_SF_EXISTING = text(
    "SELECT s.sha256, s.id FROM json_array_elements_text(CAST(:shas AS json)) AS v(sha)"
    " CROSS JOIN LATERAL (SELECT sha256, id FROM stored_files"
    " WHERE empresa_id = :emp AND sha256 = v.sha LIMIT 1) AS s"
)
_SF_INSERT = text(
    f"""
    INSERT INTO stored_files ({", ".join(_SF_COLUMNS)})
    SELECT {", ".join(_SF_COLUMNS)} FROM {recordset(_SF, _SF_COLUMNS)}
    ON CONFLICT (empresa_id, sha256) DO NOTHING
    RETURNING sha256, id
    """
)
_UF = cast(Table, UploadFile.__table__)
_UF_COLUMNS = (
    "upload_id", "position", "original_name", "stored_file_id", "status", "error_code",
    "error_message", "warnings",
)  # fmt: skip
_UF_INSERT = text(
    f"INSERT INTO upload_files ({', '.join(_UF_COLUMNS)}) "
    f"SELECT {', '.join(_UF_COLUMNS)} FROM {recordset(_UF, _UF_COLUMNS)}"
)

# code → pt-BR message for rejections decided at reception (rules as data)
RECEPTION_ERRORS: dict[str, str] = {
    "arquivo_muito_grande": "Arquivo maior que o limite de {limit} bytes por arquivo "
    "(guardado em quarentena).",
    "limite_total_excedido": "Limite total do envio ({limit} bytes) excedido: conteúdo não "
    "armazenado, reenvie este arquivo em outro lote.",
}


@dataclass(frozen=True, slots=True)
class IncomingFile:
    """A file as the client sent it (the stream is read once, in chunks)."""

    name: str
    content_type: str
    stream: IO[bytes]


@dataclass(frozen=True, slots=True)
class UploadLimits:
    """Per-file and per-upload byte limits (from settings)."""

    max_file_bytes: int
    max_total_bytes: int


@dataclass(slots=True)
class _Row:
    name: str
    content_type: str
    data: bytes | None
    error_code: str | None = None
    error_message: str | None = None
    sha256: str | None = None
    stored_id: int | None = None
    # a zip member: (the zip's stored_files id, the member's name inside the zip) and where its
    # bytes are in the zip (local header offset, compressed size, method)
    member_of: tuple[int, str] | None = None
    member_at: tuple[int, int, int] | None = None
    # a received zip kept as a file (``data`` is None): streamed to storage, never in memory
    source: IO[bytes] | None = None
    size: int = 0


def storage_key(empresa_id: int, sha256: str) -> str:
    """Where an empresa's uploaded file lives in storage."""
    return f"uploads/{empresa_id}/{sha256[:2]}/{sha256}"


class _Receiver:
    """Accumulates rows and flushes them in chunks (stored_files + upload_files)."""

    def __init__(
        self, session: Session, storage: Storage, upload: Upload, limits: UploadLimits
    ) -> None:
        self.session, self.storage, self.upload, self.limits = session, storage, upload, limits
        self.rows: list[_Row] = []
        self.position = 0
        self.total = 0
        self.stored_new = 0
        self.deduplicated = 0
        self.zips: list[dict[str, Any]] = []
        self.retention = datetime.now(UTC) + RETENTION
        self.writer = ThreadPoolExecutor(_PUT_THREADS, thread_name_prefix="upload-put")
        self.puts: list[Future[None]] = []  # storage writes of the last flushed chunk
        # The statements of chunk k run on this thread while the caller expands chunk k+1 (the
        # session is used by one thread at a time: the caller waits before touching it).
        self.db = ThreadPoolExecutor(1, thread_name_prefix="upload-db")
        self.db_write: Future[None] | None = None

    def budget(self) -> int:
        return self.limits.max_total_bytes - self.total

    def read(self, stream: IO[bytes]) -> bytes | None:
        """Read a stream whole, or None when it would pass the upload's total limit."""
        if stream.seekable():  # spooled upload: check the size first, then one read, one copy
            start = stream.tell()
            size = stream.seek(0, io.SEEK_END) - start
            stream.seek(start)
            return stream.read(size) if size <= self.budget() else None
        buf = io.BytesIO()
        while chunk := stream.read(_READ):
            if buf.tell() + len(chunk) > self.budget():
                return None
            buf.write(chunk)
        return buf.getvalue()

    def wait_puts(self) -> None:
        """Block until the pending storage writes finished (re-raising the first failure)."""
        puts, self.puts = self.puts, []
        for fut in puts:
            fut.result()

    def wait_db(self) -> None:
        """Block until the last chunk's statements ran (re-raising their failure)."""
        pending, self.db_write = self.db_write, None
        if pending is not None:
            pending.result()

    def close(self) -> None:
        """Finish the statements and every storage write, then stop the threads."""
        try:
            self.wait_db()
            self.wait_puts()
        finally:
            self.db.shutdown(wait=True, cancel_futures=True)
            self.writer.shutdown(wait=True, cancel_futures=True)

    def add(self, row: _Row) -> None:
        if row.data is not None:
            self.total += len(row.data)
            row.sha256 = hashlib.sha256(row.data).hexdigest()
            if row.error_code is None and len(row.data) > self.limits.max_file_bytes:
                row.error_code = "arquivo_muito_grande"
                row.error_message = RECEPTION_ERRORS[row.error_code].format(
                    limit=self.limits.max_file_bytes
                )
        self.rows.append(row)
        if len(self.rows) >= _CHUNK:
            self.flush()

    def store(self, rows: list[_Row]) -> dict[str, int]:
        """Stored-file ids by sha256 for rows with content (stores only the new ones)."""
        emp = self.upload.empresa_id
        by_sha = {
            r.sha256: r for r in rows if r.sha256 and (r.data is not None or r.source is not None)
        }
        if not by_sha:
            return {}
        params = {"emp": emp, "shas": json.dumps(list(by_sha))}
        ids: dict[str, int] = dict(self.session.execute(_SF_EXISTING, params).tuples().all())
        self.deduplicated += sum(1 for r in rows if r.sha256 in ids)
        values = []
        for sha, r in by_sha.items():
            if sha in ids:
                continue
            key = storage_key(emp, sha)
            if r.source is not None:  # a received zip: streamed now, in the caller's thread
                r.source.seek(0)
                self.storage.put_file(key, r.source, content_type=r.content_type)
            elif r.data is not None and r.member_of is None:
                self.puts.append(
                    self.writer.submit(self.storage.put, key, r.data, content_type=r.content_type)
                )
            container_id, member = r.member_of or (None, None)
            offset, csize, method = r.member_at if r.member_of and r.member_at else (None,) * 3
            values.append(
                {
                    "empresa_id": emp,
                    "sha256": sha,
                    "size": r.size if r.data is None else len(r.data),
                    "content_type": r.content_type[:100],
                    "original_name": r.name[:_NAME_MAX],
                    "storage_key": key,
                    "purpose": "upload",
                    "uploaded_by": self.upload.uploaded_by,
                    "retention_until": self.retention,
                    "container_id": container_id,
                    "member_name": member,
                    "member_offset": offset,
                    "member_csize": csize,
                    "member_method": method,
                }
            )
        if values:
            got: dict[str, int] = dict(
                self.session.execute(_SF_INSERT, {"rows": rows_json(_SF_COLUMNS, values)})
                .tuples()
                .all()
            )
            self.stored_new += len(got)
            ids.update(got)
            if any(v["sha256"] not in ids for v in values):
                # lost a race with a concurrent upload of the same file
                ids.update(dict(self.session.execute(_SF_EXISTING, params).tuples().all()))
        return ids

    def flush(self) -> None:
        rows, self.rows = self.rows, []
        if not rows:
            return
        self.wait_db()  # the previous chunk: at most two chunks in memory
        self.db_write = self.db.submit(self._write, rows)

    def _write(self, rows: list[_Row]) -> None:
        self.wait_puts()  # the previous chunk's storage writes
        ids = self.store(rows)
        values = []
        for r in rows:
            values.append(
                {
                    "upload_id": self.upload.id,
                    "position": self.position,
                    "original_name": r.name[:_NAME_MAX],
                    "stored_file_id": r.stored_id or ids.get(r.sha256 or ""),
                    "status": "quarentena" if r.error_code else "pendente",
                    "error_code": r.error_code,
                    "error_message": r.error_message,
                    "warnings": [],
                }
            )
            self.position += 1
        self.session.execute(_UF_INSERT, {"rows": rows_json(_UF_COLUMNS, values)})

    def add_zip(self, name: str, fh: IO[bytes], size: int, limits: ZipLimits) -> None:
        """Store a received zip (a seekable file, streamed) and add each of its members."""
        digest = hashlib.sha256()
        fh.seek(0)
        while chunk := fh.read(_READ):
            digest.update(chunk)
        sha = digest.hexdigest()
        zip_row = _Row(name, "application/zip", None, sha256=sha, source=fh, size=size)
        self.total += size
        self.wait_db()  # the session is free again
        stored = self.store([zip_row])
        fh.seek(0)
        entries: Iterator[ZipEntry] = iter_zip(fh, limits)
        zip_id = stored[sha]
        self.zips.append({"nome": name[:_NAME_MAX], "stored_file_id": zip_id})
        try:
            for entry in entries:
                shown = f"{name}/{entry.name}"
                if entry.error_code is not None:
                    row = _Row(shown, "application/octet-stream", entry.data or None,
                               entry.error_code, entry.error_message)  # fmt: skip
                elif len(entry.data) > self.budget():
                    row = _Row(shown, "application/xml", None, "limite_total_excedido",
                               self._total_message())  # fmt: skip
                else:
                    row = _Row(shown, "application/xml", entry.data)
                row.member_of, row.member_at = (zip_id, entry.name), entry.location
                self.add(row)
        except InvalidInput as exc:  # the archive as a whole: quarantine the zip itself
            bad = _Row(name, "application/zip", None, exc.code, exc.message)
            bad.stored_id = zip_id
            self.add(bad)

    def _total_message(self) -> str:
        return RECEPTION_ERRORS["limite_total_excedido"].format(limit=self.limits.max_total_bytes)


def _zip_size(name: str, stream: IO[bytes]) -> int | None:
    """The size of a zip received as a seekable file from its start (else None: read whole)."""
    if not stream.seekable() or stream.tell() != 0:
        return None
    head = stream.read(4)
    size = stream.seek(0, io.SEEK_END)
    stream.seek(0)
    return size if is_zip(name, head) else None


def receive_upload(
    session: Session,
    *,
    storage: Storage,
    empresa_id: int,
    uploaded_by: str,
    files: Iterable[IncomingFile],
    limits: UploadLimits,
) -> Upload:
    """Store every file (zips expanded), record the upload and its files; return the Upload."""
    if session.get(Empresa, empresa_id) is None:
        raise MISSING_EMPRESA.error()
    upload = Upload(empresa_id=empresa_id, uploaded_by=uploaded_by[:200], status="recebido")
    session.add(upload)
    session.flush()
    rx = _Receiver(session, storage, upload, limits)
    zip_limits = ZipLimits(
        max_file_bytes=limits.max_file_bytes, max_total_bytes=limits.max_total_bytes
    )
    try:
        for f in files:
            name = (f.name or "arquivo").replace("\x00", "")[:_NAME_MAX]
            size = _zip_size(name, f.stream)
            if size is not None and size <= rx.budget():  # kept as a file, not in memory
                rx.add_zip(name, f.stream, size, zip_limits)
                continue
            data = rx.read(f.stream) if size is None else None
            if data is None:
                msg = rx._total_message()
                rx.add(_Row(name, f.content_type, None, "limite_total_excedido", msg))
            elif is_zip(name, data[:4]):
                rx.add_zip(name, io.BytesIO(data), len(data), zip_limits)
            else:
                rx.add(_Row(name, f.content_type or "application/octet-stream", data))
            del data
        rx.flush()
    finally:
        rx.close()
    if rx.position == 0:
        raise InvalidInput("Nenhum arquivo enviado.", code="upload_vazio")
    upload.file_count = rx.position
    upload.summary = {
        "recebidos": rx.position,
        "bytes": rx.total,
        "armazenados_novos": rx.stored_new,
        "ja_armazenados": rx.deduplicated,
        "zips": rx.zips,
    }
    session.flush()
    return upload


def mark_triggered(
    session: Session, *, upload_id: int, flow_run_id: str | None, warning: str | None = None
) -> None:
    """Record the flow run that processes the upload (or why none was started)."""
    upload = session.get(Upload, upload_id)
    if upload is None:
        raise MISSING_UPLOAD.error()
    upload.flow_run_id = flow_run_id
    if warning:
        upload.summary = {**upload.summary, "aviso": warning}


def list_uploads(
    session: Session,
    *,
    empresa_id: int | None,
    status: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Sequence[Upload]:
    """Uploads, newest first, optionally of one empresa and/or in one status."""
    q = select(Upload)
    if empresa_id is not None:
        q = q.where(Upload.empresa_id == empresa_id)
    if status:
        q = q.where(Upload.status == status)
    return session.scalars(q.order_by(Upload.id.desc()).limit(min(limit, 500)).offset(offset)).all()


def upload_status(
    session: Session, *, upload_id: int, limit: int = 1000, offset: int = 0
) -> dict[str, Any]:
    """The upload, counts per file status and a page of per-file results."""
    upload = session.get(Upload, upload_id)
    if upload is None:
        raise MISSING_UPLOAD.error()
    counts = dict(
        session.execute(
            select(UploadFile.status, func.count())
            .where(UploadFile.upload_id == upload_id)
            .group_by(UploadFile.status)
        )
        .tuples()
        .all()
    )
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
