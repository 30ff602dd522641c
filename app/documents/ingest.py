"""Ingest uploaded files into fiscal documents and events, in batches (issue 3, items 3–4).

One call of :func:`ingest_batch` handles hundreds of files in the caller's transaction: one read
per file from storage (zip members from their zip, opened once per flow run:
:mod:`app.files.content`), one hardened parse + validation per document
(``app.fiscal.nfe``, via
:mod:`app.documents.classify` — on the flow's process pool when there is one, the next
batch classified ahead while this one is written), then one bulk statement per table
(:mod:`app.documents.bulk`: documents upserted by (empresa, chave), events inserted
idempotently, upload files updated by primary key). Only ``pendente`` files are touched, so
re-running an upload changes nothing. Per-file outcome (``upload_files.status``):

- ``indexado`` — a new document, or a protocolled copy replacing an unprotocolled one;
- ``duplicado`` — the document (same empresa + chave) or event was already there;
- ``evento_aplicado`` / ``evento_pendente`` — an event whose document is / is not indexed yet
  (an event that does not name the empresa is kept with a warning: it can only ever apply to
  the empresa's own document with that chave);
- ``quarentena`` — rejected, with ``error_code`` and ``error_message``; the stored file is kept
  and an operational log line repeats the reason.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import BigInteger, Table, Text, any_, bindparam, func, insert, select, text
from sqlalchemy import cast as cast_
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from app.documents.bulk import recordset, rows_json, rows_json_mysql
from app.documents.classify import (
    QUARANTINE_MESSAGES,
    Classified,
    Pending,
    start_classification,
)
from app.documents.classify_pool import prefetch, take_prefetched
from app.documents.events import apply_pending_events, record_events
from app.documents.ingest_mysql import EXISTING_MY, UPDATE_FILES_MY, upsert_documents_mysql
from app.documents.rows import DOC_COLUMNS, DOC_UPDATABLE, FILE_COLUMNS, STATUS_RANK
from app.errors import StorageError
from app.files.content import (
    ContentReader,
    ContentRef,
    content_columns,
    gone_code,
    shared_reader,
    with_container,
)
from app.sqlcompat import is_mysql, skip_locked
from app.storage.base import Storage
from models import Empresa, FiscalDocument, OperationalLog, StoredFile, Upload, UploadFile

__all__ = ["ingest_batch", "ingest_files", "pending_file_ids", "QUARANTINE_MESSAGES"]

log = logging.getLogger("contab.documents")
LOG_SOURCE = "processar-upload-xml"
_DOC_COLUMNS, _UPDATABLE, _FILE_COLUMNS = DOC_COLUMNS, DOC_UPDATABLE, FILE_COLUMNS
_DOCS = cast(Table, FiscalDocument.__table__)
_UF = cast(Table, UploadFile.__table__)
_UPSERT_DOCUMENTS = text(
    f"""
    INSERT INTO fiscal_documents ({", ".join(_DOC_COLUMNS)})
    SELECT {", ".join(_DOC_COLUMNS)} FROM {recordset(_DOCS, _DOC_COLUMNS)}
    ON CONFLICT (empresa_id, chave) DO UPDATE
       SET {", ".join(f"{c} = EXCLUDED.{c}" for c in _UPDATABLE)}, updated_at = :now
     WHERE fiscal_documents.status = 'sem_protocolo' AND EXCLUDED.status <> 'sem_protocolo'
    RETURNING chave, id
    """
)
_UPDATE_FILES = text(
    f"""
    UPDATE upload_files AS uf
       SET status = v.status, error_code = v.error_code, error_message = v.error_message,
           warnings = v.warnings, document_id = v.document_id, updated_at = now()
      FROM {recordset(_UF, _FILE_COLUMNS)}
     WHERE uf.id = v.id
    """
)
_EXISTING = text(
    "SELECT chave, id FROM fiscal_documents WHERE empresa_id = :emp AND chave = ANY(:chaves)"
)
# Storage reads are I/O (S3: one HTTP request per file): a few threads overlap them.
_READ_THREADS = 8


def pending_file_ids(session: Session, *, upload_id: int) -> list[int]:
    """Ids of the upload's files still to process, in upload order."""
    q = (
        select(UploadFile.id)
        .where(UploadFile.upload_id == upload_id, UploadFile.status == "pendente")
        .order_by(UploadFile.position)
    )
    return list(session.scalars(q))


class _Batch:
    """The classified files of one batch, written in bulk (documents, events, file outcomes)."""

    def __init__(self, session: Session, empresa_id: int, results: list[Classified]) -> None:
        self.session, self.empresa_id, self.results = session, empresa_id, results
        self.now = datetime.now(UTC)
        self.my = is_mysql(session)
        self.docs: dict[str, tuple[dict[str, Any], list[Classified]]] = {}
        self.events: list[tuple[dict[str, Any], Classified | None]] = []
        self.document_ids: dict[int, int | None] = {}
        for r in results:
            if r.status == "documento" and r.values is not None:
                self._add_doc(r.values, r)
                if r.embedded_event:
                    self.events.append((r.embedded_event, None))
            elif r.status == "evento" and r.values is not None:
                self.events.append((r.values, r))

    def _add_doc(self, values: dict[str, Any], out: Classified) -> None:
        chave = values["chave"]
        current = self.docs.get(chave)
        if current is None:
            self.docs[chave] = (values, [out])
        elif STATUS_RANK[values["status"]] > STATUS_RANK[current[0]["status"]]:
            self.docs[chave] = (values, [out, *current[1]])
        else:
            current[1].append(out)

    def write_documents(self) -> None:
        if not self.docs:
            return
        rows = [v for v, _ in self.docs.values()]
        if self.my:
            written, existing = upsert_documents_mysql(
                self.session, self.empresa_id, self.docs, rows, self.now
            )
        else:
            params = {"rows": rows_json(_DOC_COLUMNS, rows), "now": self.now}
            res = self.session.execute(_UPSERT_DOCUMENTS, params)
            written = dict(res.tuples().all())
            missing = [c for c in self.docs if c not in written]
            existing = {}
            if missing:
                q = self.session.execute(_EXISTING, {"emp": self.empresa_id, "chaves": missing})
                existing = dict(q.tuples().all())
        for chave, (_, outs) in self.docs.items():
            doc_id = written.get(chave) or existing.get(chave)
            for i, out in enumerate(outs):
                self.document_ids[out.file_id] = doc_id
                out.status = "indexado" if i == 0 and chave in written else "duplicado"

    def write_events(self) -> None:
        inserted = record_events(self.session, rows=[v for v, _ in self.events])
        chaves = set(self.docs) | {v["chave"] for v, _ in self.events}
        if chaves:
            apply_pending_events(self.session, empresa_id=self.empresa_id, chaves=chaves)
        event_outs = [(v, o) for v, o in self.events if o is not None]
        if not event_outs:
            return
        chaves_ev = sorted({v["chave"] for v, _ in event_outs})
        existing = EXISTING_MY if self.my else _EXISTING
        q = self.session.execute(existing, {"emp": self.empresa_id, "chaves": chaves_ev})
        present: dict[str, int] = dict(q.tuples().all())
        claimed: set[tuple[str, str, int]] = set()
        for values, out in event_outs:
            key = (values["chave"], values["tp_evento"], values["n_seq"])
            doc_id = self.document_ids[out.file_id] = present.get(values["chave"])
            if key not in inserted or key in claimed:
                out.status = "duplicado"
            else:
                out.status = "evento_aplicado" if doc_id else "evento_pendente"
            claimed.add(key)

    def write_files(self) -> None:
        rows = [
            {
                "id": r.file_id,
                "status": r.status,
                "error_code": r.error_code,
                "error_message": r.error_message,
                "warnings": r.warnings,
                "document_id": self.document_ids.get(r.file_id),
            }
            for r in self.results
        ]
        if rows and self.my:
            params = {"rows": rows_json_mysql(_UF, _FILE_COLUMNS, rows)}
            self.session.execute(UPDATE_FILES_MY, params)
        elif rows:
            self.session.execute(_UPDATE_FILES, {"rows": rows_json(_FILE_COLUMNS, rows)})


def _log_quarantine(
    session: Session, empresa_id: int, upload_of: dict[int, int], outcomes: Sequence[Classified]
) -> None:
    rows = []
    for o in outcomes:
        if o.status != "quarentena":
            continue
        message = f"Arquivo em quarentena ({o.error_code}): {o.error_message}"[:2000]
        log.warning("upload %s: %s", upload_of[o.file_id], message)
        details = {"upload_id": upload_of[o.file_id], "upload_file_id": o.file_id,
                   "empresa_id": empresa_id, "code": o.error_code}  # fmt: skip
        rows.append({"level": "WARNING", "source": LOG_SOURCE, "message": message,
                     "details": details})  # fmt: skip
    if rows:
        session.execute(insert(OperationalLog).values(rows))


def _read(reader: ContentReader, ref: ContentRef | None) -> bytes | ContentRef | str:
    """The file's bytes, or a zip member's local reference (read where it is classified), or
    the quarantine code when there is nothing (right) to read."""
    if ref is None:
        return "sem_conteudo"
    try:
        return reader.local_ref(ref) if ref.container is not None else reader.read(ref)
    except StorageError as exc:
        return gone_code(exc)


def _read_all(
    storage: Storage, rows: Sequence[Any]
) -> list[tuple[int, int | None, bytes | ContentRef | str]]:
    """(file id, stored file id, bytes / member reference / quarantine code) per row.

    Objects of their own are read on a few threads (S3: one HTTP request each); zip members
    are not read here: their zip is resolved to a local file once and the process that
    classifies a member reads it from there (:mod:`app.files.reader`).
    """
    reader = shared_reader(storage)
    refs = [None if sid is None else ContentRef(*cols) for _, sid, *cols in rows]
    if sum(1 for r in refs if r is not None and r.container is None) > 1:
        with ThreadPoolExecutor(_READ_THREADS) as readers:
            contents = list(readers.map(lambda ref: _read(reader, ref), refs))
    else:
        contents = [_read(reader, ref) for ref in refs]
    return [(r[0], r[1], c) for r, c in zip(rows, contents, strict=True)]


def _start(
    storage: Storage, rows: Sequence[Any], pool: Executor | None, cnpj: str, empresa_id: int
) -> Pending:
    now = datetime.now(UTC)
    files = _read_all(storage, rows)
    return start_classification(files, pool=pool, cnpj=cnpj, empresa_id=empresa_id, now=now)


def _ids_in(session: Session, file_ids: Sequence[int]) -> Any:
    if is_mysql(session):
        return UploadFile.id.in_(list(file_ids))
    # the ids as one JSON parameter (an array parameter is dumped element by element in Python)
    param = cast_(bindparam("ids", json.dumps(list(file_ids)), type_=Text), postgresql.JSON)
    ids = func.json_array_elements_text(param).table_valued("value")
    # = ANY(ARRAY(subquery)): the array is built once and probes the primary key (an
    # IN (subquery) was planned as a nested loop when statistics lagged: ~60 ms a batch)
    return UploadFile.id == any_(
        func.array(select(cast_(ids.c.value, BigInteger)).scalar_subquery())
    )


def _file_rows(
    session: Session, file_ids: Sequence[int], lock: bool, *, upload_id: int | None = None,
    empresa_id: int | None = None,
) -> Any:  # fmt: skip
    """The pending files among ``file_ids`` of one upload, or of any upload of one empresa."""
    q = with_container(
        select(UploadFile.id, UploadFile.stored_file_id, *content_columns()).outerjoin(
            StoredFile, StoredFile.id == UploadFile.stored_file_id
        )
    ).where(_ids_in(session, file_ids), UploadFile.status == "pendente")
    if upload_id is not None:
        q = q.where(UploadFile.upload_id == upload_id)
    else:
        q = q.join(Upload, Upload.id == UploadFile.upload_id).where(Upload.empresa_id == empresa_id)
    q = q.order_by(UploadFile.upload_id, UploadFile.position)
    if lock and is_mysql(session):
        # lock first, unordered (see app.sqlcompat.skip_locked), then read in upload order
        free = select(UploadFile.id).where(
            _ids_in(session, file_ids), UploadFile.status == "pendente"
        )
        ids = list(session.scalars(skip_locked(session, free)))
        q = q.where(UploadFile.id.in_(ids))
    elif lock:
        q = q.with_for_update(of=UploadFile, skip_locked=True)
    return session.execute(q).all()


def ingest_batch(
    session: Session,
    *,
    storage: Storage,
    upload_id: int,
    file_ids: Sequence[int],
    pool: Executor | None = None,
    next_file_ids: Sequence[int] | None = None,
) -> dict[str, int]:
    """Process the given pending files of an upload; return counts per resulting status.

    ``pool`` (optional) runs the CPU-bound classification in worker processes; reads, writes
    and the transaction stay here. ``next_file_ids`` (the flow's next batch) starts that
    batch's classification in the background while this one is written.
    """
    upload = session.get(Upload, upload_id)
    if upload is None:
        return {}
    upload_of = {f: upload_id for f in [*file_ids, *(next_file_ids or ())]}
    return _ingest(
        session, storage, upload.empresa_id, upload_of, file_ids, next_file_ids, pool,
        group=("upload", upload_id), scope={"upload_id": upload_id},
    )  # fmt: skip


def ingest_files(
    session: Session,
    *,
    storage: Storage,
    empresa_id: int,
    upload_of: dict[int, int],
    file_ids: Sequence[int],
    pool: Executor | None = None,
    next_file_ids: Sequence[int] | None = None,
) -> dict[str, int]:
    """Like :func:`ingest_batch` for pending files of *several* uploads of one empresa
    (``upload_of``: file id → upload id): one pass and one bulk statement per table for all of
    them, so a batch of 500 single-file uploads costs what one 500-file upload does."""
    return _ingest(
        session, storage, empresa_id, upload_of, file_ids, next_file_ids, pool,
        group=("empresa", empresa_id), scope={"empresa_id": empresa_id},
    )  # fmt: skip


def _ingest(
    session: Session,
    storage: Storage,
    empresa_id: int,
    upload_of: dict[int, int],
    file_ids: Sequence[int],
    next_file_ids: Sequence[int] | None,
    pool: Executor | None,
    *,
    group: tuple[str, int],
    scope: dict[str, int],
) -> dict[str, int]:
    cnpj = session.scalar(select(Empresa.cnpj).where(Empresa.id == empresa_id)) or ""
    rows = _file_rows(session, file_ids, lock=True, **scope)
    known = {}
    if pending := take_prefetched(group, file_ids):  # started by the previous batch
        known = pending.collect()
    missing = [r for r in rows if r[0] not in known]
    if missing:
        known.update(_start(storage, missing, pool, cnpj, empresa_id).collect())
    outcomes = [known[r[0]] for r in rows]
    if next_file_ids and pool is not None:
        ahead = _file_rows(session, next_file_ids, lock=False, **scope)
        prefetch(group, next_file_ids, lambda: _start(storage, ahead, pool, cnpj, empresa_id))
    batch = _Batch(session, empresa_id, outcomes)
    batch.write_documents()
    batch.write_events()
    batch.write_files()
    _log_quarantine(session, empresa_id, upload_of, outcomes)
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.status] = counts.get(o.status, 0) + 1
    return counts
