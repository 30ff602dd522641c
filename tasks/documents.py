"""Document tasks (thin glue): each one is one transaction over the services in app/services."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from prefect import task

from app.db import session_scope
from app.documents.admin import revalidate_batch
from app.documents.classify import active_pool
from app.documents.ingest import ingest_batch
from app.documents.lifecycle import (
    claim_for_retry,
    claim_interrupted,
    claimed_unfinished,
    finish_upload,
    pending_interrupted,
    pending_untriggered,
    start_upload,
)
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
def complete_upload(upload_id: int) -> dict[str, Any]:
    """Apply pending events and record the upload's final status and summary."""
    with session_scope() as session:
        return finish_upload(session, upload_id=upload_id)


@task(name="revalidar-lote-de-documentos", **TASK_DEFAULTS)
def revalidate_documents(after_id: int, limit: int = 200) -> dict[str, Any]:
    """Re-validate one batch of documents in aviso/pendente (one transaction)."""
    with session_scope() as session:
        last, counts = revalidate_batch(
            session, storage=get_storage(), after_id=after_id, limit=limit
        )
        return {"last_id": last, "counts": counts}


@task(name="recuperar-uploads-sem-execucao", **TASK_DEFAULTS)
def claim_untriggered_uploads(marker: str, older_than_minutes: int = 5) -> list[int]:
    """Uploads recorded while Prefect was down, claimed for processing by this run."""
    with session_scope() as session:
        ids = pending_untriggered(session, older_than=timedelta(minutes=older_than_minutes))
        return [i for i in ids if claim_for_retry(session, upload_id=i, marker=marker)]


# A flow run still Running this long after entering that state has outlived processar-upload-xml's
# timeout (3600 s): its process is gone and nobody will mark it Crashed (machine lost).
RUNNING_FOR_TOO_LONG = timedelta(seconds=3600 + 15 * 60)


def run_is_over(flow_run_id: str) -> bool:
    """True when the flow run can no longer process its upload: unknown to Prefect, in a final
    state (Completed, Failed, Crashed, Cancelled), or Running past the flow's timeout.

    Scheduled, Pending, Paused, AwaitingRetry or recently Running runs are left alone: they will
    still run. An unreachable Prefect API raises (the task retries).
    """
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    try:
        run_id = uuid.UUID(flow_run_id)
    except ValueError:
        return True  # not a flow run id (a marker of a recovery that never finished)
    with get_client(sync_client=True) as client:
        try:
            state = client.read_flow_run(run_id).state
        except ObjectNotFound:
            return True
    if state is None or state.is_final():
        return True
    if state.is_running():
        return datetime.now(UTC) - state.timestamp > RUNNING_FOR_TOO_LONG
    return False


@task(name="recuperar-uploads-interrompidos", **TASK_DEFAULTS)
def claim_interrupted_uploads(marker: str, idle_minutes: int = 15) -> list[int]:
    """Uploads whose run died (or ended) with files still pending, claimed by this run, plus
    those this run claimed before it was retried."""
    with session_scope() as session:
        own = claimed_unfinished(session, marker=marker)
        candidates = pending_interrupted(session, idle_for=timedelta(minutes=idle_minutes))
    over = [(uid, run) for uid, run in candidates if run != marker and run_is_over(run)]
    with session_scope() as session:
        claimed = [
            uid
            for uid, run in over
            if claim_interrupted(session, upload_id=uid, previous_run=run, marker=marker)
        ]
    return sorted(set(own) | set(claimed))
