"""The classification process pool of a drain or flow run (split from app.documents.classify).

One pool per flow-run process (:func:`classify_pool`), optionally started in the background by a
drain that meets a full plan (:func:`standby_pool`), with the fork server warmed once per run;
:func:`prefetch` classifies batch k+1 while batch k is written. See the classify module's
docstring for why ``forkserver`` with :mod:`app.documents.pool_worker` preloaded.
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
from typing import Any

from app.documents.classify import Pending
from app.fiscal.nfe.schemas import SCHEMAS, get_schema

__all__ = [
    "active_pool",
    "classify_pool",
    "ingest_workers",
    "prefetch",
    "standby_pool",
    "take_prefetched",
    "warm_schemas",
]

_active: Executor | None = None
# Batch k+1 is read and classified while batch k is written (the pool's cores would otherwise
# idle during the writes): one background thread, results keyed by (upload, file ids).
_prefetcher: ThreadPoolExecutor | None = None
_prefetched: dict[tuple[Hashable, frozenset[int]], Future[Pending]] = {}


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
