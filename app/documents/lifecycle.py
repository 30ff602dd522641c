"""Upload lifecycle around the batches: plan one upload's batches, finish with a summary.

Waiting uploads are processed by drain runs (:mod:`app.documents.drain`, started by
:mod:`app.documents.dispatch`); an operator may still process one upload by id. Processing is
idempotent and locks files with ``SKIP LOCKED``, so runs that overlap duplicate nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.documents.events import apply_pending_events
from app.documents.ingest import pending_file_ids
from app.documents.queries import get_upload
from models import Upload, UploadFile

__all__ = ["BATCH_SIZE", "finish_upload", "finish_uploads", "start_upload"]

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
    get_upload(session, upload_id=upload_id)  # NotFound for an unknown id
    return finish_uploads(session, upload_ids=[upload_id], flow_run_id=flow_run_id)[upload_id]


def finish_uploads(
    session: Session, *, upload_ids: Sequence[int], flow_run_id: str | None = None
) -> dict[int, dict[str, Any]]:
    """:func:`finish_upload` for many uploads in a constant number of statements (one events
    pass per empresa, one count per table for all of them): a drain batch completes hundreds
    of single-file uploads at once."""
    uploads = session.scalars(select(Upload).where(Upload.id.in_(list(upload_ids)))).all()
    # Concurrent batches/uploads may each miss the other's uncommitted document or event:
    # one empresa-wide pass after every batch committed closes that gap.
    for empresa_id in sorted({u.empresa_id for u in uploads}):
        apply_pending_events(session, empresa_id=empresa_id)
    ids = [u.id for u in uploads]
    by_status: dict[int, dict[str, int]] = {i: {} for i in ids}
    counts = session.execute(
        select(UploadFile.upload_id, UploadFile.status, func.count())
        .where(UploadFile.upload_id.in_(ids))
        .group_by(UploadFile.upload_id, UploadFile.status)
    ).tuples()
    for upload_id, status, n in counts:
        by_status[upload_id][status] = n
    errors: dict[int, dict[str | None, int]] = {i: {} for i in ids}
    codes = session.execute(
        select(UploadFile.upload_id, UploadFile.error_code, func.count())
        .where(UploadFile.upload_id.in_(ids), UploadFile.status == "quarentena")
        .group_by(UploadFile.upload_id, UploadFile.error_code)
    ).tuples()
    for upload_id, code, n in codes:
        errors[upload_id][code] = n
    now = datetime.now(UTC)
    out: dict[int, dict[str, Any]] = {}
    for upload in uploads:
        seen, errs = by_status[upload.id], errors[upload.id]
        if seen.get("pendente"):
            status = "processando"
        elif seen.get("quarentena"):
            status = "concluido_com_erros"
        else:
            status = "concluido"
        upload.status = status
        if flow_run_id:
            upload.flow_run_id = flow_run_id[:36]
        upload.finished_at = now if status != "processando" else None
        upload.summary = {**upload.summary, "por_status": seen, "erros": errs}
        out[upload.id] = {"status": status, "por_status": seen, "erros": errs}
    return out
