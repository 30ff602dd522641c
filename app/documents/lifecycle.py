"""Upload lifecycle around the batches: plan one upload's batches, finish with a summary.

Waiting uploads are processed by drain runs (:mod:`app.documents.drain`, started by
:mod:`app.documents.dispatch`); an operator may still process one upload by id. Processing is
idempotent and locks files with ``SKIP LOCKED``, so runs that overlap duplicate nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.documents.events import apply_pending_events
from app.documents.ingest import pending_file_ids
from app.documents.queries import files_by_status, get_upload
from models import UploadFile

__all__ = ["BATCH_SIZE", "finish_upload", "start_upload"]

# Hundreds of documents per task (ARCHITECTURE.md: never a task per document); 500 × ~0.5 ms
# of parse+validate keeps a batch far below the 120 s task timeout even for 100 KiB files.
BATCH_SIZE = 500


def start_upload(
    session: Session, *, upload_id: int, batch_size: int = BATCH_SIZE
) -> list[list[int]]:
    """Mark the upload as processing and split its pending files into batches of ids."""
    upload = get_upload(session, upload_id=upload_id)
    ids = pending_file_ids(session, upload_id=upload_id)
    if ids and upload.status != "processando":
        upload.status = "processando"
    return [ids[i : i + batch_size] for i in range(0, len(ids), batch_size)]


def finish_upload(
    session: Session, *, upload_id: int, flow_run_id: str | None = None
) -> dict[str, Any]:
    """Apply pending events of the empresa, then record the upload's final status and summary
    (and ``flow_run_id``, the run that processed it, when given)."""
    upload = get_upload(session, upload_id=upload_id)
    # Concurrent batches/uploads may each miss the other's uncommitted document or event:
    # one empresa-wide pass after every batch committed closes that gap.
    apply_pending_events(session, empresa_id=upload.empresa_id)
    by_status = files_by_status(session, upload_id=upload_id)
    errors = dict(
        session.execute(
            select(UploadFile.error_code, func.count())
            .where(UploadFile.upload_id == upload_id, UploadFile.status == "quarentena")
            .group_by(UploadFile.error_code)
        )
        .tuples()
        .all()
    )
    if by_status.get("pendente"):
        status = "processando"
    elif by_status.get("quarentena"):
        status = "concluido_com_erros"
    else:
        status = "concluido"
    upload.status = status
    if flow_run_id:
        upload.flow_run_id = flow_run_id[:36]
    upload.finished_at = datetime.now(UTC) if status != "processando" else None
    upload.summary = {**upload.summary, "por_status": by_status, "erros": errors}
    return {"status": status, "por_status": by_status, "erros": errors}
