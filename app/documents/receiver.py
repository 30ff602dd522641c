"""The two phases of receiving an upload: files to storage first, then one short transaction.

Phase 1 (:meth:`Receiver.take`, no database): each file is read, hashed and checked against the
limits; a file of its own is written to storage under its content address (on a few threads:
disk and S3 writes are I/O), a received zip is streamed to storage whole and expanded one level
(:mod:`app.documents.zipfiles`) — its members are only hashed: they are read later from inside
the zip. Only metadata is kept (names, hashes, sizes, reasons), so memory stays bounded by a
chunk of files in flight plus the received zip itself.

Phase 2 (:meth:`Receiver.record`, the caller's transaction, on its Connection: Core statements
only, no ORM unit of work on the request path): per chunk of 500 files one array-parameter
statement per table (``INSERT … SELECT … FROM`` a JSON recordset) records the stored files not
stored yet for the empresa (dedup by (empresa, sha256)); then one INSERT records the upload row
with its file count and summary; then per chunk one statement the upload's files. A single-XML
upload is four statements. A request's transaction therefore never waits on storage: it holds
its connection only for the few statements of phase 2.

A file already stored for the empresa (same sha256) is written again in phase 1 (same key, same
bytes: a no-op for the reader) — the price of not asking the database before the writes.
"""

from __future__ import annotations

import hashlib
import io
import json
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import IO, Any, cast

from sqlalchemy import Connection, Table, insert, text

from app.documents.bulk import json_table, recordset, rows_json, rows_json_mysql
from app.documents.zipfiles import ZipEntry, ZipLimits, iter_zip
from app.errors import InvalidInput
from app.sqlcompat import is_mysql, mysql_texts
from app.storage.base import Storage
from models import StoredFile, Upload, UploadFile

__all__ = ["RECEPTION_ERRORS", "RETENTION", "Receiver", "UploadLimits", "storage_key"]

# Office policy: 7 years (DOMAIN.md "Retention"; CTN arts. 173/174 require 5 + the current year).
RETENTION = timedelta(days=7 * 366)
_CHUNK = 500
_READ = 1024 * 1024
NAME_MAX = 255
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
# MySQL/MariaDB: the same statements over JSON_TABLE; no RETURNING (MySQL 8 has none), so the
# new rows' ids are read back with _SF_EXISTING (the same hashes).
_SF_EXISTING_MY = text(
    "SELECT s.sha256, s.id FROM stored_files s WHERE s.empresa_id = :emp AND s.sha256 IN "
    + mysql_texts("shas", 64)
)
_SF_INSERT_MY = text(
    f"INSERT INTO stored_files ({', '.join(_SF_COLUMNS)}) "
    f"SELECT {', '.join(_SF_COLUMNS)} FROM {json_table(_SF, _SF_COLUMNS)} "
    "ON DUPLICATE KEY UPDATE id = stored_files.id"
)
_UP = cast(Table, Upload.__table__)
_UF = cast(Table, UploadFile.__table__)
_UF_COLUMNS = (
    "upload_id", "position", "original_name", "stored_file_id", "status", "error_code",
    "error_message", "warnings",
)  # fmt: skip
_UF_INSERT = text(
    f"INSERT INTO upload_files ({', '.join(_UF_COLUMNS)}) "
    f"SELECT {', '.join(_UF_COLUMNS)} FROM {recordset(_UF, _UF_COLUMNS)}"
)
_UF_INSERT_MY = text(
    f"INSERT INTO upload_files ({', '.join(_UF_COLUMNS)}) "
    f"SELECT {', '.join(_UF_COLUMNS)} FROM {json_table(_UF, _UF_COLUMNS)}"
)

# code → pt-BR message for rejections decided at reception (rules as data)
RECEPTION_ERRORS: dict[str, str] = {
    "arquivo_muito_grande": "Arquivo maior que o limite de {limit} bytes por arquivo "
    "(guardado em quarentena).",
    "limite_total_excedido": "Limite total do envio ({limit} bytes) excedido: conteúdo não "
    "armazenado, reenvie este arquivo em outro lote.",
}


@dataclass(frozen=True, slots=True)
class UploadLimits:
    """Per-file and per-upload byte limits (from settings)."""

    max_file_bytes: int
    max_total_bytes: int


def storage_key(empresa_id: int, sha256: str) -> str:
    """Where an empresa's uploaded file lives in storage."""
    return f"uploads/{empresa_id}/{sha256[:2]}/{sha256}"


@dataclass(slots=True)
class Row:
    """One file as received: metadata only once phase 1 has handled its bytes."""

    name: str
    content_type: str
    data: bytes | None
    error_code: str | None = None
    error_message: str | None = None
    sha256: str | None = None
    size: int = 0
    kept: bool = False  # its content is stored (a file of its own, a zip, or a zip member)
    # a zip member: (its zip's sha256, the member's name) and where its bytes are in the zip
    member_of: tuple[str, str] | None = None
    member_at: tuple[int, int, int] | None = None
    is_zip: bool = False
    stored_as: str | None = None  # a bad zip quarantined as itself: the zip's sha256


@lru_cache(maxsize=1)
def _writer() -> ThreadPoolExecutor:
    """Storage writes of every request of this process (a pool per request cost a thread start
    per file: most uploads are one XML)."""
    return ThreadPoolExecutor(_PUT_THREADS, thread_name_prefix="upload-put")


class Receiver:
    """Phase 1 in :meth:`take`/:meth:`take_zip`, phase 2 in :meth:`record`."""

    def __init__(self, storage: Storage, empresa_id: int, limits: UploadLimits) -> None:
        self.storage, self.empresa_id, self.limits = storage, empresa_id, limits
        self.rows: list[Row] = []
        self.zip_rows: list[Row] = []
        self.total = 0
        self.stored_new = 0
        self.deduplicated = 0
        self.written: set[str] = set()
        self.writer = _writer()
        self.puts: list[Future[None]] = []

    # ------------------------------------------------------------ phase 1 (storage only)
    def budget(self) -> int:
        return self.limits.max_total_bytes - self.total

    def total_message(self) -> str:
        return RECEPTION_ERRORS["limite_total_excedido"].format(limit=self.limits.max_total_bytes)

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

    def close(self) -> None:
        """Finish every storage write of this upload (the threads are shared by the process)."""
        self.wait_puts()

    def take(self, row: Row) -> None:
        """Hash a file, apply the per-file limit, write it to storage if it is a file of its own."""
        if row.data is not None:
            self.total += len(row.data)
            row.size, row.kept = len(row.data), True
            row.sha256 = hashlib.sha256(row.data).hexdigest()
            if row.error_code is None and len(row.data) > self.limits.max_file_bytes:
                row.error_code = "arquivo_muito_grande"
                row.error_message = RECEPTION_ERRORS[row.error_code].format(
                    limit=self.limits.max_file_bytes
                )
            if row.member_of is None and row.sha256 not in self.written:
                self.written.add(row.sha256)
                key = storage_key(self.empresa_id, row.sha256)
                self.puts.append(
                    self.writer.submit(
                        self.storage.put, key, row.data, content_type=row.content_type
                    )
                )
            row.data = None  # the bytes live in storage (or in their zip) from here on
        self.rows.append(row)
        if len(self.puts) >= _CHUNK:
            self.wait_puts()  # bounded memory: at most a chunk of files in flight

    def take_zip(self, name: str, fh: IO[bytes], size: int, limits: ZipLimits) -> None:
        """Stream a received zip (a seekable file) to storage and take each of its members."""
        digest = hashlib.sha256()
        fh.seek(0)
        while chunk := fh.read(_READ):
            digest.update(chunk)
        sha = digest.hexdigest()
        self.total += size
        if sha not in self.written:
            self.written.add(sha)
            fh.seek(0)
            self.storage.put_file(
                storage_key(self.empresa_id, sha), fh, content_type="application/zip"
            )
        self.zip_rows.append(
            Row(name, "application/zip", None, sha256=sha, size=size, kept=True, is_zip=True)
        )
        fh.seek(0)
        entries: Any = iter_zip(fh, limits)
        try:
            for entry in entries:
                entry = cast(ZipEntry, entry)
                shown = f"{name}/{entry.name}"
                if entry.error_code is not None:
                    row = Row(shown, "application/octet-stream", entry.data or None,
                              entry.error_code, entry.error_message)  # fmt: skip
                elif len(entry.data) > self.budget():
                    row = Row(shown, "application/xml", None, "limite_total_excedido",
                              self.total_message())  # fmt: skip
                else:
                    row = Row(shown, "application/xml", entry.data)
                row.member_of, row.member_at = (sha, entry.name), entry.location
                self.take(row)
        except InvalidInput as exc:  # the archive as a whole: quarantine the zip itself
            self.take(Row(name, "application/zip", None, exc.code, exc.message, stored_as=sha))

    # ------------------------------------------------------------ phase 2 (database only)
    def _store(
        self, conn: Connection, rows: list[Row], zips: dict[str, int], uploaded_by: str
    ) -> dict[str, int]:
        """Stored-file ids by sha256 for rows with content (records only the new ones)."""
        emp = self.empresa_id
        by_sha = {r.sha256: r for r in rows if r.sha256 and r.kept}
        if not by_sha:
            return {}
        params = {"emp": emp, "shas": json.dumps(list(by_sha))}
        my = is_mysql(conn)
        existing = _SF_EXISTING_MY if my else _SF_EXISTING
        ids: dict[str, int] = dict(conn.execute(existing, params).tuples().all())
        self.deduplicated += sum(1 for r in rows if r.kept and r.sha256 in ids)
        retention = datetime.now(UTC) + RETENTION
        values = []
        for sha, r in by_sha.items():
            if sha in ids:
                continue
            container, member = (
                (zips[r.member_of[0]], r.member_of[1]) if r.member_of else (None,) * 2
            )
            offset, csize, method = r.member_at if r.member_of and r.member_at else (None,) * 3
            values.append(
                {
                    "empresa_id": emp, "sha256": sha, "size": r.size,
                    "content_type": r.content_type[:100], "original_name": r.name[:NAME_MAX],
                    "storage_key": storage_key(emp, sha), "purpose": "upload",
                    "uploaded_by": uploaded_by, "retention_until": retention,
                    "container_id": container, "member_name": member, "member_offset": offset,
                    "member_csize": csize, "member_method": method,
                }
            )  # fmt: skip
        if values and my:
            # A hash a concurrent upload stored first is counted as new here (no RETURNING).
            conn.execute(_SF_INSERT_MY, {"rows": rows_json_mysql(_SF, _SF_COLUMNS, values)})
            self.stored_new += len(values)
            ids.update(dict(conn.execute(existing, params).tuples().all()))
        elif values:
            got: dict[str, int] = dict(
                conn.execute(_SF_INSERT, {"rows": rows_json(_SF_COLUMNS, values)}).tuples().all()
            )
            self.stored_new += len(got)
            ids.update(got)
            if any(v["sha256"] not in ids for v in values):
                # lost a race with a concurrent upload of the same file
                ids.update(dict(conn.execute(_SF_EXISTING, params).tuples().all()))
        return ids

    def record(self, conn: Connection, *, uploaded_by: str) -> tuple[int, dict[str, Any]]:
        """Record the stored files, the upload (with its count and summary) and its files in the
        caller's transaction; return the upload's id and summary."""
        zips = self._store(conn, self.zip_rows, {}, uploaded_by)
        ids: dict[str, int] = {}
        for k in range(0, len(self.rows), _CHUNK):
            ids.update(self._store(conn, self.rows[k : k + _CHUNK], zips, uploaded_by))
        summary: dict[str, Any] = {
            "recebidos": len(self.rows),
            "bytes": self.total,
            "armazenados_novos": self.stored_new,
            "ja_armazenados": self.deduplicated,
            "zips": [
                {"nome": z.name[:NAME_MAX], "stored_file_id": zips[z.sha256 or ""]}
                for z in self.zip_rows
            ],
        }
        new_upload = insert(_UP).values(
            empresa_id=self.empresa_id, uploaded_by=uploaded_by, status="recebido",
            file_count=len(self.rows), summary=summary,
        )  # fmt: skip
        # the new id: implicit RETURNING on PostgreSQL, the cursor's lastrowid on MySQL
        key = conn.execute(new_upload).inserted_primary_key
        assert key is not None  # a single-row INSERT always has it
        upload_id = int(key[0])
        my = is_mysql(conn)
        for k in range(0, len(self.rows), _CHUNK):
            values: list[dict[str, Any]] = [
                {
                    "upload_id": upload_id,
                    "position": k + i,
                    "original_name": r.name[:NAME_MAX],
                    "stored_file_id": zips[r.stored_as] if r.stored_as else ids.get(r.sha256 or ""),
                    "status": "quarentena" if r.error_code else "pendente",
                    "error_code": r.error_code,
                    "error_message": r.error_message,
                    "warnings": [],
                }
                for i, r in enumerate(self.rows[k : k + _CHUNK])
            ]
            if my:
                conn.execute(_UF_INSERT_MY, {"rows": rows_json_mysql(_UF, _UF_COLUMNS, values)})
            else:
                conn.execute(_UF_INSERT, {"rows": rows_json(_UF_COLUMNS, values)})
        return upload_id, summary
