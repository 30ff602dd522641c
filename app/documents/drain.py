"""Draining waiting uploads: fair batches across empresas, completion of finished uploads.

One drain run processes the pending files of *every* waiting upload, a bounded batch per task
and transaction. A batch is chosen fairly: each empresa's pending files are numbered in upload
order and the batch takes rank 1 of every empresa, then rank 2, and so on — a client's
50,000-file zip cannot hold back another client's single XML for more than one batch.

Nothing is claimed outside the batch's own transaction: :func:`app.documents.ingest.ingest_files`
locks the files it processes (``FOR UPDATE SKIP LOCKED``) and only touches ``pendente`` ones. A
run that dies mid-batch has its transaction rolled back, so its files are simply pending again
for the next run; two runs at once never process a file twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Executor
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from app.documents.classify_pool import standby_pool
from app.documents.ingest import ingest_files
from app.documents.lifecycle import BATCH_SIZE, finish_uploads
from app.sqlcompat import is_mysql, skip_locked
from app.storage.base import Storage
from models import Upload, UploadFile

__all__ = [
    "UNFINISHED",
    "complete_finished",
    "fair_batch",
    "has_waiting_uploads",
    "ingest_fair_batch",
    "pending_count",
]

# A plan this full (the batch and the next one) starts the classification pool in the
# background at once; the batch goes on in-process until the pool is up.
STANDBY_MIN_FILES = 2 * BATCH_SIZE

UNFINISHED = ("recebido", "processando")
# Per empresa, its first :n pending files in upload order (the partial index
# ix_upload_files_pending serves each LATERAL probe), then interleaved by rank.
_FAIR = text(
    """
    SELECT f.id, f.upload_id
      FROM (SELECT DISTINCT empresa_id FROM uploads
             WHERE status IN ('recebido', 'processando')) AS e
     CROSS JOIN LATERAL (
            SELECT uf.id, uf.upload_id,
                   row_number() OVER (ORDER BY uf.upload_id, uf.position) AS rn
              FROM uploads AS u
              JOIN upload_files AS uf ON uf.upload_id = u.id AND uf.status = 'pendente'
             WHERE u.empresa_id = e.empresa_id AND u.status IN ('recebido', 'processando')
             ORDER BY uf.upload_id, uf.position
             LIMIT :n) AS f
     ORDER BY f.rn, e.empresa_id
     LIMIT :n
    """
)

# MySQL/MariaDB: no LATERAL on MariaDB; the same ranking as one window over the pending files.
_FAIR_MY = text(
    """
    SELECT f.id, f.upload_id FROM (
            SELECT uf.id, uf.upload_id, u.empresa_id,
                   row_number() OVER (PARTITION BY u.empresa_id
                                      ORDER BY uf.upload_id, uf.position) AS rn
              FROM uploads AS u
              JOIN upload_files AS uf ON uf.upload_id = u.id AND uf.status = 'pendente'
             WHERE u.status IN ('recebido', 'processando')) AS f
     WHERE f.rn <= :n
     ORDER BY f.rn, f.empresa_id
     LIMIT :n
    """
)


def has_waiting_uploads(session: Session) -> bool:
    """True when some upload is not finished yet (pending files or a summary to write)."""
    q = select(Upload.id).where(Upload.status.in_(UNFINISHED)).limit(1)
    return session.scalar(q) is not None


def pending_count(session: Session) -> int:
    """Pending files of unfinished uploads (the backlog)."""
    q = (
        select(func.count())
        .select_from(UploadFile)
        .join(Upload, Upload.id == UploadFile.upload_id)
        .where(UploadFile.status == "pendente", Upload.status.in_(UNFINISHED))
    )
    return int(session.scalar(q) or 0)


def fair_batch(session: Session, *, size: int = BATCH_SIZE) -> list[tuple[int, int]]:
    """The next ``size`` pending files, as (file id, upload id), fair across empresas."""
    rows = session.execute(_FAIR_MY if is_mysql(session) else _FAIR, {"n": size}).tuples().all()
    return [(int(f), int(u)) for f, u in rows]


def _by_empresa(
    files: Sequence[tuple[int, int]], empresa_of: dict[int, int]
) -> dict[int, list[int]]:
    groups: dict[int, list[int]] = {}
    for file_id, upload_id in files:
        if upload_id in empresa_of:
            groups.setdefault(empresa_of[upload_id], []).append(file_id)
    return groups


def ingest_fair_batch(
    session: Session,
    *,
    storage: Storage,
    run_id: str,
    files: Sequence[tuple[int, int]],
    ahead: Sequence[tuple[int, int]] = (),
    pool: Executor | None = None,
) -> list[dict[str, Any]]:
    """Process a batch of files of several uploads; complete the uploads it finishes.

    The touched uploads become ``processando`` and name ``run_id`` as their run. ``ahead`` (the
    next batch as planned now) is classified in the background when a pool is open. Without
    one, a full plan (a large backlog, e.g. a big zip just received) starts the pool in the
    background (:func:`app.documents.classify_pool.standby_pool`) instead of waiting for the flow to
    open it after this batch. Returns the summaries of the uploads completed (see
    :func:`complete_finished`).
    """
    if not files:
        return []
    if pool is None:
        pool = standby_pool(start=len(files) + len(ahead) >= STANDBY_MIN_FILES)
    upload_of = dict([*files, *ahead])
    touched = sorted({u for _, u in files})
    session.execute(
        update(Upload)
        .where(Upload.id.in_(touched), Upload.status.in_(UNFINISHED))
        .values(status="processando", flow_run_id=run_id[:36])
    )
    empresa_of = dict(
        session.execute(
            select(Upload.id, Upload.empresa_id).where(Upload.id.in_(set(upload_of.values())))
        )
        .tuples()
        .all()
    )
    # one pass per empresa: its files of every upload in the batch together
    groups, next_groups = _by_empresa(files, empresa_of), _by_empresa(ahead, empresa_of)
    for empresa_id, ids in groups.items():
        ingest_files(
            session,
            storage=storage,
            empresa_id=empresa_id,
            upload_of=upload_of,
            file_ids=ids,
            pool=pool,
            next_file_ids=next_groups.get(empresa_id),
        )
    return complete_finished(session, run_id=run_id, upload_ids=touched)


def complete_finished(
    session: Session, *, run_id: str, upload_ids: Sequence[int] | None = None
) -> list[dict[str, Any]]:
    """Finish the unfinished uploads (all, or of ``upload_ids``) left with no pending file.

    Covers the uploads a batch just emptied, uploads whose every file was rejected at reception,
    and uploads a dead run emptied but never completed. Returns one summary per upload:
    ``upload_id``, ``empresa_id``, ``arquivos``, ``status``, ``por_status``, ``erros``.
    """
    pending = select(UploadFile.id).where(
        UploadFile.upload_id == Upload.id, UploadFile.status == "pendente"
    )
    q = select(Upload.id, Upload.empresa_id, Upload.file_count).where(
        Upload.status.in_(UNFINISHED), ~pending.exists()
    )
    if upload_ids is not None:
        q = q.where(Upload.id.in_(list(upload_ids)))
    rows = sorted(session.execute(skip_locked(session, q, Upload.id)).all(), key=lambda r: r[0])
    if not rows:
        return []
    results = finish_uploads(session, upload_ids=[r[0] for r in rows], flow_run_id=run_id)
    return [
        {"upload_id": upload_id, "empresa_id": empresa_id, "arquivos": files, **results[upload_id]}
        for upload_id, empresa_id, files in rows
    ]
