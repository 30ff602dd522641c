"""Document flows on the `documentos` pool (guide §6.1 "Processar upload de XML", "Validar
documentos").

- ``processar-upload-xml``, drain mode (no ``upload_id``; started by the upload dispatcher,
  :mod:`app.documents.dispatch`, whenever uploads wait and no drainer is alive): holds the
  drainer lease, then processes the pending files of *every* waiting upload in fair batches of
  ~500 across empresas (one task and one transaction each), completes each upload as its last
  file is done (the upload names this run), lingers ~60 s for more work, and ends before its
  timeout (the dispatcher starts the next). A second run finds the lease taken and ends at once.
  At the end (and every few minutes on long runs) it publishes a per-upload summary table.
- ``processar-upload-xml`` with an ``upload_id`` (an operator in the UI): that upload only.
- The CPU-bound parse + XSD validation runs on a process pool (``workers``, default
  ``INGEST_WORKERS`` or the number of CPUs), opened only when the backlog is large.
- ``validar-documentos`` (daily 02:30, and on demand): the safety net — drains whatever is still
  pending (uploads of a period with no dispatcher running), then re-validates documents in
  ``aviso``/``pendente`` and applies pending events. Catch-up: a missed daily run is not
  replayed; the next run covers everything still pending (the work is a query, not a time
  window).

Everything is idempotent: a file is processed only while ``pendente`` (locked ``SKIP LOCKED``),
documents are upserted by (empresa, chave), so a retry, a duplicate or a re-run changes nothing.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact
from prefect.runtime import flow_run

from app.db import session_scope
from app.documents.classify_pool import classify_pool
from app.documents.dispatch import Lease, wait_for_wake
from app.documents.drain import has_waiting_uploads
from app.files.content import close_shared
from tasks.defaults import flow_defaults
from tasks.documents import (
    complete_upload,
    count_pending,
    drain_batch,
    plan_upload,
    process_batch,
    revalidate_documents,
)

# Below this many files the drain classifies in the flow's own process.
POOL_MIN_FILES = 1500
FLOW_TIMEOUT = 3600
# A drain run stops taking batches after this long (well inside FLOW_TIMEOUT: the batch in
# flight, a retry and the final summary still fit); the dispatcher starts the next run.
DRAIN_SECONDS = 45 * 60
ARTIFACT_EVERY = 300.0


def _waiting() -> bool:
    """A cheap look (no task run) for uploads waiting, while the drain lingers."""
    with session_scope() as session:
        return has_waiting_uploads(session)


def _summary_table(done: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
    statuses = sorted({k for d in done.values() for k in d["por_status"]})
    return [
        {
            "upload": uid,
            "empresa": d["empresa_id"],
            "arquivos": d["arquivos"],
            "situacao": d["status"],
            **{st: d["por_status"].get(st, 0) for st in statuses},
            "quarentena_motivos": ", ".join(f"{k}: {v}" for k, v in sorted(d["erros"].items())),
        }
        for uid, d in sorted(done.items())
    ]


def _publish(run_id: str, done: dict[int, dict[str, Any]]) -> None:
    if done:
        create_table_artifact(
            key="uploads-processados",
            table=_summary_table(done),
            description=f"Uploads concluídos pela execução {run_id}",
        )


def _one_upload(upload_id: int, workers: int | None, run_id: str) -> dict[str, Any]:
    batches = plan_upload(upload_id)
    if workers is None and sum(len(b) for b in batches) < POOL_MIN_FILES:
        # the pool costs ~0.5 s to start (fork server + workers) and saves ~0.4 ms a file on
        # 2 cores: worth it from about 1,200 files
        workers = 1
    try:
        with classify_pool(workers):
            for k, ids in enumerate(batches):
                process_batch(upload_id, ids, batches[k + 1] if k + 1 < len(batches) else None)
    finally:
        close_shared()  # the upload's zip, kept open across its batches
    result = complete_upload(upload_id, run_id)
    get_run_logger().info(
        "Upload %s: %s lote(s), %s", upload_id, len(batches), result["por_status"]
    )
    create_table_artifact(
        key=f"upload-{upload_id}",
        table=[{"situacao": k, "arquivos": v} for k, v in sorted(result["por_status"].items())]
        + [{"situacao": f"quarentena: {k}", "arquivos": v} for k, v in result["erros"].items()],
        description=f"Resultado do upload {upload_id}",
    )
    return {"upload_id": upload_id, "lotes": len(batches), **result}


def _drain(
    run_id: str, workers: int | None, linger_seconds: float, max_seconds: float
) -> dict[str, Any]:
    logger = get_run_logger()
    lease = Lease(run_id)
    if not lease.acquire():
        logger.info("Outra execução já drena a fila de uploads: nada a fazer.")
        return {"drenou": False, "uploads": [], "lotes": 0, "arquivos": 0}
    moved = [time.monotonic()]
    lease.keep_alive(lambda: time.monotonic() - moved[0])
    started = published = time.monotonic()
    idle_since: float | None = None
    done: dict[int, dict[str, Any]] = {}
    batches = files = 0
    try:
        with contextlib.ExitStack() as pools:
            pool_open = workers == 1
            if not pool_open and count_pending() >= POOL_MIN_FILES:
                pools.enter_context(classify_pool(workers))
                pool_open = True
            while not lease.lost.is_set() and time.monotonic() - started < max_seconds:
                if idle_since is not None and not _waiting():  # idle: no task run per poll
                    if time.monotonic() - idle_since >= linger_seconds:
                        break
                    wait_for_wake(min(1.0, linger_seconds))
                    moved[0] = time.monotonic()
                    continue
                out = drain_batch(run_id)
                moved[0] = time.monotonic()
                done.update((d["upload_id"], d) for d in out["concluidos"])
                if out["arquivos"]:
                    batches, files, idle_since = batches + 1, files + out["arquivos"], None
                    if not pool_open and out["restantes"] >= POOL_MIN_FILES:
                        pools.enter_context(classify_pool(workers))  # open for the rest of the run
                        pool_open = True
                    if time.monotonic() - published > ARTIFACT_EVERY:
                        _publish(run_id, done)
                        published = time.monotonic()
                    continue
                idle_since = idle_since or time.monotonic()
                if time.monotonic() - idle_since >= linger_seconds:
                    break
                wait_for_wake(min(1.0, linger_seconds))
    finally:
        close_shared()
        lease.release()
    _publish(run_id, done)
    logger.info("Fila drenada: %s lote(s), %s arquivo(s), %s upload(s) concluído(s)",
                batches, files, len(done))  # fmt: skip
    return {"drenou": True, "uploads": sorted(done), "lotes": batches, "arquivos": files}


@flow(name="processar-upload-xml", log_prints=False, **flow_defaults(FLOW_TIMEOUT))
def process_upload_flow(
    upload_id: int | None = None,
    workers: int | None = None,
    linger_seconds: float = 60,
    max_seconds: float = DRAIN_SECONDS,
) -> dict[str, Any]:
    """Process every waiting upload in fair batches (no ``upload_id``), or one upload."""
    run_id = str(flow_run.id or f"local-{uuid.uuid4()}")
    if upload_id is not None:
        return _one_upload(upload_id, workers, run_id)
    return _drain(run_id, workers, linger_seconds, max_seconds)


@flow(name="validar-documentos", log_prints=False, **flow_defaults(FLOW_TIMEOUT))
def validate_documents_flow(batch_size: int = 200) -> dict[str, Any]:
    """Drain uploads still waiting (safety net), then re-validate documents in aviso/pendente."""
    logger = get_run_logger()
    # A subflow run of its own: the uploads it completes name it. With a drainer alive (the
    # dispatcher's), it finds the lease taken and leaves the work to it.
    state = process_upload_flow(linger_seconds=0, return_state=True)
    drained = state.result(raise_on_failure=False) if state.is_completed() else None
    recovered = list(drained["uploads"]) if isinstance(drained, dict) else []
    after = 0
    counts: dict[str, int] = {}
    while True:
        out = revalidate_documents(after, batch_size)
        for k, n in out["counts"].items():
            counts[k] = counts.get(k, 0) + n
        if out["last_id"] is None:
            break
        after = out["last_id"]
    logger.info("Uploads recuperados: %s; revalidação: %s", recovered, counts)
    if not state.is_completed():  # after the revalidation: the run fails, is retried, is seen
        raise RuntimeError(f"Drenagem de uploads não concluída: {state.name}")
    return {"uploads_recuperados": recovered, "revalidacao": counts}
