"""Upload lifecycle around the batches: plan, finish with a summary, recover stranded ones.

Two kinds of upload are stranded with pending files, and ``validar-documentos`` processes both:
untriggered ones (recorded while the Prefect API was unreachable: no flow run) and interrupted
ones (their run died — worker or machine killed — or ended while another run held some of the
files). Processing is idempotent and locks files with ``SKIP LOCKED``, so a recovery that
overlaps a run still alive duplicates nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import exists, func, select, update
from sqlalchemy.orm import Session

from app.documents.events import apply_pending_events
from app.documents.ingest import pending_file_ids
from app.errors import MISSING_UPLOAD
from models import Upload, UploadFile

__all__ = [
    "BATCH_SIZE",
    "claim_for_retry",
    "claim_interrupted",
    "claimed_unfinished",
    "pending_interrupted",
    "finish_upload",
    "pending_untriggered",
    "start_upload",
]

# Hundreds of documents per task (ARCHITECTURE.md: never a task per document); 500 × ~0.5 ms
# of parse+validate keeps a batch far below the 120 s task timeout even for 100 KiB files.
BATCH_SIZE = 500


def start_upload(
    session: Session, *, upload_id: int, batch_size: int = BATCH_SIZE
) -> list[list[int]]:
    """Mark the upload as processing and split its pending files into batches of ids."""
    upload = session.get(Upload, upload_id)
    if upload is None:
        raise MISSING_UPLOAD.error()
    ids = pending_file_ids(session, upload_id=upload_id)
    if ids and upload.status != "processando":
        upload.status = "processando"
    return [ids[i : i + batch_size] for i in range(0, len(ids), batch_size)]


def finish_upload(session: Session, *, upload_id: int) -> dict[str, Any]:
    """Apply pending events of the empresa, then record the upload's final status and summary."""
    upload = session.get(Upload, upload_id)
    if upload is None:
        raise MISSING_UPLOAD.error()
    # Concurrent batches/uploads may each miss the other's uncommitted document or event:
    # one empresa-wide pass after every batch committed closes that gap.
    apply_pending_events(session, empresa_id=upload.empresa_id)
    by_status = dict(
        session.execute(
            select(UploadFile.status, func.count())
            .where(UploadFile.upload_id == upload_id)
            .group_by(UploadFile.status)
        )
        .tuples()
        .all()
    )
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
    upload.finished_at = datetime.now(UTC) if status != "processando" else None
    upload.summary = {**upload.summary, "por_status": by_status, "erros": errors}
    return {"status": status, "por_status": by_status, "erros": errors}


def pending_untriggered(session: Session, *, older_than: timedelta) -> list[int]:
    """Uploads recorded while Prefect was unreachable (no flow run), oldest first."""
    cutoff = datetime.now(UTC) - older_than
    return list(
        session.scalars(
            select(Upload.id)
            .where(
                Upload.status == "recebido",
                Upload.flow_run_id.is_(None),
                Upload.created_at < cutoff,
            )
            .order_by(Upload.id)
        )
    )


def claim_for_retry(session: Session, *, upload_id: int, marker: str) -> bool:
    """Mark an untriggered upload as taken by a recovery run; False when someone else has it."""
    res = session.execute(
        update(Upload)
        .where(Upload.id == upload_id, Upload.flow_run_id.is_(None))
        .values(flow_run_id=marker[:36])
    )
    return bool(res.rowcount)  # type: ignore[attr-defined]


_UNFINISHED = ("recebido", "processando")
_HAS_PENDING = exists().where(UploadFile.upload_id == Upload.id, UploadFile.status == "pendente")


def pending_interrupted(session: Session, *, idle_for: timedelta) -> list[tuple[int, str]]:
    """(upload id, flow run id) of triggered uploads that still hold pending files and made no
    progress (no file or upload change) for ``idle_for``, oldest first."""
    cutoff = datetime.now(UTC) - idle_for
    last_change = (
        select(func.max(UploadFile.updated_at))
        .where(UploadFile.upload_id == Upload.id)
        .scalar_subquery()
    )
    rows = session.execute(
        select(Upload.id, Upload.flow_run_id)
        .where(
            Upload.status.in_(_UNFINISHED),
            Upload.flow_run_id.is_not(None),
            Upload.updated_at < cutoff,
            func.coalesce(last_change, Upload.created_at) < cutoff,
            _HAS_PENDING,
        )
        .order_by(Upload.id)
    )
    return [(uid, str(run)) for uid, run in rows.tuples()]


def claimed_unfinished(session: Session, *, marker: str) -> list[int]:
    """Uploads a recovery run already claimed that still hold pending files (the run is being
    retried: they are its own work, whatever their idle time)."""
    return list(
        session.scalars(
            select(Upload.id)
            .where(Upload.flow_run_id == marker[:36], Upload.status.in_(_UNFINISHED), _HAS_PENDING)
            .order_by(Upload.id)
        )
    )


def claim_interrupted(session: Session, *, upload_id: int, previous_run: str, marker: str) -> bool:
    """Hand an interrupted upload to the recovering run; False when another run took it first."""
    res = session.execute(
        update(Upload)
        .where(Upload.id == upload_id, Upload.flow_run_id == previous_run)
        .values(flow_run_id=marker[:36])
    )
    return bool(res.rowcount)  # type: ignore[attr-defined]
