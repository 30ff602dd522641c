"""Document tasks (thin glue): each one is one transaction over the services in app/services."""

from __future__ import annotations

from typing import Any

from prefect import task

from app.db import session_scope
from app.documents.admin import revalidate_batch
from app.documents.classify_pool import active_pool
from app.documents.drain import (
    complete_finished,
    fair_batch,
    ingest_fair_batch,
    pending_count,
)
from app.documents.ingest import ingest_batch
from app.documents.lifecycle import BATCH_SIZE, finish_upload, start_upload
from app.storage import get_storage
from tasks.defaults import TASK_DEFAULTS


@task(name="planejar-lotes-do-upload", **TASK_DEFAULTS)
def plan_upload(upload_id: int) -> list[list[int]]:
    """Mark the upload as processing; return its pending file ids in batches."""
    with session_scope() as session:
        return start_upload(session, upload_id=upload_id)


@task(name="processar-lote-de-xml", **TASK_DEFAULTS)
def process_batch(
    upload_id: int, file_ids: list[int], next_file_ids: list[int] | None = None
) -> dict[str, int]:
    """Parse, validate and index one batch of files (one transaction; CPU work on the pool).

    ``next_file_ids``: the flow's next batch, classified in the background meanwhile.
    """
    with session_scope() as session:
        return ingest_batch(
            session,
            storage=get_storage(),
            upload_id=upload_id,
            file_ids=file_ids,
            pool=active_pool(),
            next_file_ids=next_file_ids,
        )


@task(name="concluir-upload", **TASK_DEFAULTS)
def complete_upload(upload_id: int, flow_run_id: str | None = None) -> dict[str, Any]:
    """Apply pending events and record the upload's final status, summary and run."""
    with session_scope() as session:
        return finish_upload(session, upload_id=upload_id, flow_run_id=flow_run_id)


@task(name="processar-lote-da-fila", **TASK_DEFAULTS)
def drain_batch(run_id: str, batch_size: int = BATCH_SIZE) -> dict[str, Any]:
    """Claim the next fair batch of pending files across waiting uploads and process it (one
    transaction); complete the uploads it finishes.

    Returns ``arquivos`` (files in the batch), ``concluidos`` (summaries of completed uploads)
    and ``restantes`` (the backlog left, which decides whether the flow opens its process pool).
    The batch after this one is planned too and classified ahead when the pool is open.
    """
    with session_scope() as session:
        planned = fair_batch(session, size=2 * batch_size)
        files, ahead = planned[:batch_size], planned[batch_size:]
        done = ingest_fair_batch(
            session, storage=get_storage(), run_id=run_id, files=files, ahead=ahead,
            pool=active_pool(),
        )  # fmt: skip
        if not files:
            done = complete_finished(session, run_id=run_id)
        left = pending_count(session) if files else 0
        return {"arquivos": len(files), "concluidos": done, "restantes": left}


@task(name="contar-arquivos-pendentes", **TASK_DEFAULTS)
def count_pending() -> int:
    """Pending files of every waiting upload (the drain's backlog)."""
    with session_scope() as session:
        return pending_count(session)


@task(name="revalidar-lote-de-documentos", **TASK_DEFAULTS)
def revalidate_documents(after_id: int, limit: int = 200) -> dict[str, Any]:
    """Re-validate one batch of documents in aviso/pendente (one transaction)."""
    with session_scope() as session:
        last, counts = revalidate_batch(
            session, storage=get_storage(), after_id=after_id, limit=limit
        )
        return {"last_id": last, "counts": counts}
