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

import atexit
import contextlib
import multiprocessing
import os
import sys
import threading
from collections.abc import Callable, Hashable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
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
from app.fiscal.nfe.schemas import SCHEMAS, get_schema

__all__ = [
    "Classified",
    "Job",
    "QUARANTINE_MESSAGES",
    "Pending",
    "active_pool",
    "classify",
    "classify_many",
    "classify_pool",
    "ingest_workers",
    "prefetch",
    "standby_pool",
    "start_classification",
    "take_prefetched",
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
_active: Executor | None = None
# Batch k+1 is read and classified while batch k is written (the pool's cores would otherwise
# idle during the writes): one background thread, results keyed by (upload, file ids).
_prefetcher: ThreadPoolExecutor | None = None
_prefetched: dict[tuple[Hashable, frozenset[int]], Future[Pending]] = {}
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


def prefetch(group: Hashable, file_ids: Sequence[int], start: Callable[[], Pending]) -> None:
    """Run ``start`` in the background for a later batch of ``group`` (an upload or an empresa)
    (only while a pool is open)."""
    if _prefetcher is not None:
        _prefetched[(group, frozenset(file_ids))] = _prefetcher.submit(start)


def take_prefetched(group: Hashable, file_ids: Sequence[int]) -> Pending | None:
    """The classification a previous batch started for these files, if any (else None)."""
    fut = _prefetched.pop((group, frozenset(file_ids)), None)
    if fut is None:
        return None
    try:
        return fut.result()
    except Exception:  # noqa: BLE001 - e.g. a transient read error: classify again, here
        return None


def ingest_workers() -> int:
    """Worker processes for classification: INGEST_WORKERS, or one per CPU when 0."""
    from app.settings import get_settings

    configured = get_settings().INGEST_WORKERS
    return configured if configured > 0 else max(1, os.cpu_count() or 1)


# Compiled before the workers start (the bulk of any upload); others compile on first use.
WARM_SCHEMAS = (("nfeProc", "4.00", ""), ("NFe", "4.00", ""))
_PRELOAD = "app.documents.pool_worker"


def warm_schemas() -> None:
    """Compile the NF-e schemas in this thread (the fork server does it once for every worker)."""
    for key in WARM_SCHEMAS:
        get_schema(SCHEMAS[key])


def active_pool() -> Executor | None:
    """The pool opened by :func:`classify_pool` in this process, if any."""
    return _active


_main_lock = threading.Lock()


@contextmanager
def _main_not_inherited() -> Iterator[None]:
    """Hide the parent's ``__main__`` while workers start.

    multiprocessing makes every spawned or fork-server child import the parent's main module
    (by name or path). In a Prefect flow-run process that is ``prefect.engine``: seconds of CPU
    per worker, for nothing (workers run only functions of importable modules). Without
    ``__spec__`` and ``__file__`` on ``__main__`` the children skip it.
    """
    main = sys.modules.get("__main__")
    names: tuple[str, ...] = ("__spec__", "__file__")
    with _main_lock:  # pools may start on several threads: one hides (and restores) at a time
        saved = {k: main.__dict__[k] for k in names if main and k in main.__dict__}
        try:
            if main is not None:
                main.__spec__ = None
                main.__dict__.pop("__file__", None)
            yield
        finally:
            if main is not None:
                main.__dict__.update(saved)


def _forkserver() -> Any:
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload([_PRELOAD])  # takes effect when the fork server starts
    return ctx


_warmed = False


def _warm_fork_server() -> None:
    """Start this process's fork server (imports, schemas) in the background, once.

    It lives as long as the process and every pool's workers are forked from it: a drain run
    pays its start (~0.3 s of CPU in a process of its own) when it takes its first batch, so a
    large upload arriving later gets a pool in a few ms instead of after the fork server's
    start (measured 0.4 s with the machine quiet, over a second loaded).
    """
    global _warmed
    with _standby_lock:
        if _warmed:
            return
        _warmed = True

    def start() -> None:
        from multiprocessing import forkserver

        _forkserver()
        with _main_not_inherited(), contextlib.suppress(Exception):
            forkserver.ensure_running()  # type: ignore[attr-defined]

    threading.Thread(target=start, name="ingest-forkserver-start", daemon=True).start()


def _open_pool(n: int) -> ProcessPoolExecutor:
    ctx = _forkserver()
    pool = ProcessPoolExecutor(max_workers=n, mp_context=ctx)
    with _main_not_inherited():
        # each submit starts one worker now, while __main__ is hidden
        started = [pool.submit(int) for _ in range(n)]
    for fut in started:
        fut.result()
    return pool


STANDBY_GRACE = 0.05


class _Standby(Executor):
    """A process pool being started in the background; until it is up, work runs inline.

    Opening the pool costs a fork server (imports, schema compilation) and its workers: ~0.3 s
    on an idle 2-core machine, over a second on a loaded one. A drain that meets a large
    backlog starts one here and goes on classifying its first batch in-process meanwhile:
    each chunk submitted before the pool is up runs in the caller's thread, every chunk after
    goes to the pool. The flow's :func:`classify_pool` then adopts it (no wait).
    """

    def __init__(self, workers: int) -> None:
        self._pool: ProcessPoolExecutor | None = None
        self._up = threading.Event()
        threading.Thread(
            target=self._start, args=(workers,), name="ingest-pool-start", daemon=True
        ).start()
        # With the fork server already running (a drain's earlier batches started it) the
        # workers are forked in a few ms: worth waiting for, so no chunk runs inline.
        self._up.wait(STANDBY_GRACE)

    def _start(self, workers: int) -> None:
        try:
            self._pool = _open_pool(workers)
        except Exception:  # noqa: BLE001 - no pool: the work keeps running inline
            self._pool = None
        finally:
            self._up.set()

    def pool(self, *, wait: bool = False) -> ProcessPoolExecutor | None:
        """The started pool (None while starting, or when it could not start)."""
        if wait:
            self._up.wait()
        return self._pool if self._up.is_set() else None

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        """To the pool once it is up; before that, run now in this thread."""
        if (pool := self.pool()) is not None:
            return pool.submit(fn, *args, **kwargs)
        fut: Future[Any] = Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except Exception as exc:  # noqa: BLE001 - handed to the caller through the future
            fut.set_exception(exc)
        return fut

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Shut the pool down once it has started."""
        if (pool := self.pool(wait=True)) is not None:
            pool.shutdown(wait=wait, cancel_futures=cancel_futures)


_standby: _Standby | None = None
_standby_lock = threading.Lock()


def _close_standby() -> None:
    global _standby, _prefetcher
    with _standby_lock:
        standby, _standby = _standby, None
    if standby is None:
        return
    if _active is None and _prefetcher is not None:
        _prefetcher.shutdown(wait=True, cancel_futures=True)
        _prefetcher = None
        _prefetched.clear()
    standby.shutdown(wait=True, cancel_futures=True)


def standby_pool(*, start: bool) -> Executor | None:
    """The pool this process classifies on without a :func:`classify_pool` block: the open
    one, else the one started in the background (``start``: start it now if there is none;
    a drain does so on meeting a large backlog). None with one worker, or when none started.
    Without ``start`` (a drain's ordinary batch) the fork server is started in the background
    once (:func:`_warm_fork_server`), so a pool started later is up in a few ms.

    Batches of the next backlog are prefetched on it as on an opened pool. It lives until the
    flow's :func:`classify_pool` adopts it (and closes it with the run) or the process ends.
    """
    global _standby, _prefetcher
    if _active is not None:
        return _active
    if ingest_workers() <= 1:
        return None
    if not start:
        _warm_fork_server()  # a drain at work: the next large upload finds it ready
    with _standby_lock:
        if _standby is None and start:
            _standby = _Standby(ingest_workers())
            _prefetcher = _prefetcher or ThreadPoolExecutor(1, thread_name_prefix="ingest-prefetch")
        return _standby


atexit.register(_close_standby)


@contextmanager
def classify_pool(workers: int | None = None) -> Iterator[Executor | None]:
    """Open a thread-safe process pool for the duration of a flow run (None when 1 worker);
    a pool started in the background by :func:`standby_pool` is adopted, not started again."""
    global _active, _prefetcher, _standby
    n = workers or ingest_workers()
    if n <= 1 or _active is not None:  # one core, or a parent flow already opened one
        yield _active
        return
    with _standby_lock:
        standby, _standby = _standby, None
    pool = standby.pool(wait=True) if standby is not None else None
    if pool is None:
        pool = _open_pool(n)
    _active = pool
    _prefetcher = _prefetcher or ThreadPoolExecutor(1, thread_name_prefix="ingest-prefetch")
    try:
        yield pool
    finally:
        _prefetcher.shutdown(wait=True, cancel_futures=True)
        _active, _prefetcher = None, None
        _prefetched.clear()
        pool.shutdown(wait=True, cancel_futures=True)
