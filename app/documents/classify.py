"""Classify uploaded files into row values — the CPU-bound step of ingest, in a process pool.

:func:`classify` is pure (bytes in, plain values out: no database, no storage), so the same code
runs in-process (tests, one core) or in worker processes of a :class:`ProcessPoolExecutor` on a
multi-core worker (parse + XSD validation hold the GIL, so threads would not scale). The parent
keeps all I/O and the batch's single transaction. The pool is created once per flow run by
:func:`classify_pool`; its size is ``INGEST_WORKERS`` (default ``os.cpu_count()``; ``1`` disables
the pool). Start method ``forkserver`` with :mod:`app.documents.pool_worker` preloaded: the
fork server (a fresh single-threaded process: safe with the threads of the Prefect engine)
imports the classification code and compiles the NF-e schemas once, and each worker is a fork
of it, ready at once. With ``spawn`` every worker re-imported the parent's ``__main__`` — in a
Prefect flow-run process that is ``prefect.engine``, several seconds of CPU per worker.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field, fields
from datetime import datetime
from operator import attrgetter
from typing import Any

from app.documents.rows import (
    DOCUMENT_KINDS,
    document_values,
    embedded_cancel_values,
    event_values,
)
from app.errors import AppError, InvalidDocument, StorageError
from app.files.reader import ContentRef, gone_code, read_local
from app.fiscal.nfe import EVENT_KINDS, DocumentStatus, match_company, parse_bytes, validate

__all__ = [
    "Classified",
    "Job",
    "QUARANTINE_MESSAGES",
    "Pending",
    "classify",
    "classify_many",
    "start_classification",
]

# Codes decided here (the parser's own codes come with their messages).
QUARANTINE_MESSAGES: dict[str, str] = {
    "documento_de_outra_empresa": "O documento não tem esta empresa como emitente nem como "
    "destinatária.",
    "conteudo_corrompido": "O conteúdo armazenado difere do recebido (tamanho ou sha256): "
    "arquivo não processado.",
    "evento_nao_registrado": "Evento sem registro na SEFAZ (retEvento com cStat 135/136/155).",
    "evento_nao_suportado": "Tipo de evento não suportado.",
    "arquivo_nao_encontrado": "Arquivo não encontrado no armazenamento.",
    "sem_conteudo": "Conteúdo não armazenado (ver motivo na recepção).",
}
EVENT_UNLINKED = {
    "code": "evento_sem_vinculo_confirmado",
    "message": "Evento não cita esta empresa; será aplicado só se a NF-e dela chegar.",
}
# Files per unit of work sent to a worker: small enough to balance a batch over the workers,
# large enough that the per-task IPC round trip stays negligible (measured: 100 ≫ 25).
CHUNK = 100


@dataclass(frozen=True, slots=True)
class Job:
    """One file to classify (picklable: sent to a worker process).

    ``data`` is the bytes, or — for a zip member — a reference with the zip as a local path,
    read (and checked against its sha256) by whichever process classifies it.
    """

    file_id: int
    stored_file_id: int | None
    data: bytes | ContentRef

    def __reduce__(self) -> tuple[type[Job], tuple[Any, ...]]:
        return Job, _JOB_FIELDS(self)  # a tuple pickles faster than the default state dict


@dataclass(slots=True)
class Classified:
    """What one file is, as plain values (picklable: returned by a worker process)."""

    file_id: int
    status: str = "quarentena"  # quarentena | documento | evento
    error_code: str | None = None
    error_message: str | None = None
    warnings: list[dict[str, str]] = field(default_factory=list)
    chave: str | None = None
    # fiscal_documents or fiscal_events row, JSON-ready (``app.documents.rows``)
    values: dict[str, Any] | None = None
    embedded_event: dict[str, Any] | None = None  # a cancellation carried inside nfeProc

    def __reduce__(self) -> tuple[type[Classified], tuple[Any, ...]]:
        # Back from a worker for every document: a tuple pickles and loads faster than the
        # default state dict of a slots dataclass.
        return Classified, _CLASSIFIED_FIELDS(self)

    def quarantine(self, code: str, message: str | None = None) -> Classified:
        """Mark as rejected with a stable code (message from the catalogue by default)."""
        self.status, self.error_code = "quarentena", code
        self.error_message = message or QUARANTINE_MESSAGES.get(code, code)
        return self


_JOB_FIELDS = attrgetter(*(f.name for f in fields(Job)))
_CLASSIFIED_FIELDS = attrgetter(*(f.name for f in fields(Classified)))


def _classify(out: Classified, job: Job, cnpj: str, empresa_id: int, now: datetime) -> None:
    sid = job.stored_file_id
    data = job.data
    if isinstance(data, ContentRef):
        try:
            data = read_local(data)
        except StorageError as exc:
            out.quarantine(gone_code(exc))
            return
    try:
        tree, doc = parse_bytes(data)
    except InvalidDocument as exc:
        out.quarantine(exc.code, exc.message)
        return
    doc = validate(doc, tree)
    out.warnings = [w.to_dict() for w in doc.warnings]
    out.chave = doc.chave
    if doc.errors:
        first = doc.errors[0]
        out.quarantine(first.code, first.message + (f" {first.detail}" if first.detail else ""))
        return
    direction = match_company(doc, cnpj)
    if doc.kind in EVENT_KINDS:  # NF-e and CT-e events alike
        if doc.status is not DocumentStatus.EVENT_REGISTERED:
            out.quarantine("evento_nao_registrado")
            return
        values = event_values(doc, empresa_id=empresa_id, stored_file_id=sid)
        if direction is None and values["chave"][6:20] != cnpj:
            # The empresa may be the recipient of an NF-e whose cancellation names no CNPJDest
            # (optional in retEvento): keep it; it can only ever apply to this empresa's own
            # document with that chave, so nothing foreign is ever changed.
            out.warnings.append(EVENT_UNLINKED)
        out.status, out.values = "evento", values
    elif doc.kind in DOCUMENT_KINDS:
        if direction is None:
            out.quarantine("documento_de_outra_empresa")
            return
        out.status = "documento"
        out.values = document_values(
            doc, empresa_id=empresa_id, direction=direction, stored_file_id=sid, now=now
        )
        out.embedded_event = embedded_cancel_values(doc, empresa_id=empresa_id, stored_file_id=sid)
    else:
        out.quarantine("documento_nao_fiscal", "XML não é um documento fiscal reconhecido.")


def classify(job: Job, *, cnpj: str, empresa_id: int, now: datetime) -> Classified:
    """Parse, validate and map one file; any domain finding becomes a quarantine code."""
    out = Classified(job.file_id)
    try:
        _classify(out, job, cnpj, empresa_id, now)
    except AppError as exc:  # any other domain finding on one file: quarantine it
        if exc.retryable:
            raise
        out.values = None
        out.quarantine(exc.code, exc.message)
    return out


def classify_many(
    jobs: Sequence[Job], cnpj: str, empresa_id: int, now: datetime
) -> list[Classified]:
    """:func:`classify` over a chunk of files (the unit of work sent to a worker process)."""
    return [classify(j, cnpj=cnpj, empresa_id=empresa_id, now=now) for j in jobs]


def submit_chunks(
    pool: Executor, jobs: Sequence[Job], *, cnpj: str, empresa_id: int, now: datetime
) -> list[Future[list[Classified]]]:
    """Submit jobs to the pool in small chunks (balanced across workers; results in order)."""
    size = CHUNK
    return [
        pool.submit(classify_many, jobs[i : i + size], cnpj, empresa_id, now)
        for i in range(0, len(jobs), size)
    ]


@dataclass(slots=True)
class Pending:
    """Classification under way for one batch: results already known and the pool's futures."""

    ready: dict[int, Classified]
    futures: list[Future[list[Classified]]]

    def collect(self) -> dict[int, Classified]:
        """Every result by file id (waits for the pool)."""
        for fut in self.futures:
            self.ready.update((r.file_id, r) for r in fut.result())
        self.futures = []
        return self.ready


def start_classification(
    files: Sequence[tuple[int, int | None, bytes | ContentRef | str]],
    *,
    pool: Executor | None,
    cnpj: str,
    empresa_id: int,
    now: datetime,
) -> Pending:
    """Start classifying (file id, stored file id, bytes, local member ref or a quarantine
    code) tuples."""
    ready: dict[int, Classified] = {}
    jobs: list[Job] = []
    for file_id, stored_id, content in files:
        if isinstance(content, str):
            ready[file_id] = Classified(file_id).quarantine(content)
        else:
            jobs.append(Job(file_id, stored_id, content))
    if pool is None or len(jobs) < 2:
        ready.update((r.file_id, r) for r in classify_many(jobs, cnpj, empresa_id, now))
        return Pending(ready, [])
    return Pending(ready, submit_chunks(pool, jobs, cnpj=cnpj, empresa_id=empresa_id, now=now))
