"""A drain that meets a large backlog starts the classification pool in the background: the
first batch goes on in-process meanwhile, the next one is classified ahead on it, and the
flow's ``classify_pool`` adopts that pool instead of starting another (real PostgreSQL, real
worker processes)."""

from __future__ import annotations

import io
import os
import zipfile

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.documents.classify_pool import classify_pool, ingest_workers, standby_pool
from app.documents.drain import STANDBY_MIN_FILES, complete_finished, fair_batch, ingest_fair_batch
from app.documents.lifecycle import BATCH_SIZE
from app.storage import get_storage
from models import FiscalDocument, UploadFile
from tests.services.test_documents_ingest import CNPJ, OTHER, make_empresa, upload
from tests.support.generator import make_nfe


def test_standby_runs_inline_until_up_then_on_workers() -> None:
    assert ingest_workers() > 1  # this machine has several cores: the pool is used
    pool = standby_pool(start=True)
    assert pool is not None and standby_pool(start=False) is pool
    assert pool.submit(sum, [1, 2]).result() == 3  # inline or on a worker: the same answer
    with classify_pool() as opened:  # adopted: the same processes, no second start
        assert opened is not None and opened is not pool
        assert opened.submit(os.getpid).result() != os.getpid()
        assert standby_pool(start=False) is opened
    assert standby_pool(start=False) is None  # closed with the block


def test_a_full_plan_starts_the_pool_and_every_file_is_indexed_once(db: Session) -> None:
    emp = make_empresa(db)
    n = STANDBY_MIN_FILES
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for k in range(1, n + 1):
            zf.writestr(f"n{k}.xml", make_nfe(CNPJ, OTHER, "2026-03", numero=k))
    up = upload(db, emp, [("lote.zip", buf.getvalue())])
    planned = fair_batch(db, size=2 * BATCH_SIZE)
    files, ahead = planned[:BATCH_SIZE], planned[BATCH_SIZE:]
    assert standby_pool(start=False) is None
    run = "execucao-standby"
    ingest_fair_batch(db, storage=get_storage(), run_id=run, files=files, ahead=ahead)
    standby = standby_pool(start=False)
    assert standby is not None  # started by the full plan
    with classify_pool():  # the flow opens its pool after the first batch: adopts the standby
        done = ingest_fair_batch(db, storage=get_storage(), run_id=run, files=ahead)
    assert standby_pool(start=False) is None
    done += complete_finished(db, run_id=run)
    assert [(d["upload_id"], d["status"]) for d in done] == [(up, "concluido")]
    q = (
        select(UploadFile.status, func.count())
        .where(UploadFile.upload_id == up)
        .group_by(UploadFile.status)
    )
    statuses = {st: c for st, c in db.execute(q).all()}
    assert statuses == {"indexado": n}
    docs = db.scalar(select(func.count()).select_from(FiscalDocument).where(
        FiscalDocument.empresa_id == emp))  # fmt: skip
    assert docs == n
