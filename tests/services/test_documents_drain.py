"""Drain runs: fair batches across empresas, several uploads completed by one run, the
dispatcher's decisions (real PostgreSQL and Redis; the Prefect side is a recording stand-in)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db import session_scope
from app.documents.dispatch import Dispatcher, Lease, announce, key, wait_for_wake
from app.documents.drain import complete_finished, fair_batch, ingest_fair_batch
from app.documents.reception import IncomingFile, UploadLimits, receive_upload
from app.storage import get_storage
from models import FiscalDocument, Upload, UploadFile
from tests.services.test_documents_ingest import CNPJ, LIMITS, OTHER, make_empresa, upload
from tests.support.generator import make_nfe

OTHER_CNPJ = "45723174000110"


def drain(session: Session, run_id: str, size: int) -> tuple[int, list[dict[str, Any]]]:
    """What a drain run does, batch after batch, until nothing is pending."""
    batches, done = 0, []
    while files := fair_batch(session, size=size):
        done += ingest_fair_batch(session, storage=get_storage(), run_id=run_id, files=files)
        batches += 1
    return batches, done + complete_finished(session, run_id=run_id)


def test_a_single_xml_is_in_the_first_batch_behind_a_big_upload(db: Session) -> None:
    big_emp, small_emp = make_empresa(db), make_empresa(db, OTHER_CNPJ)
    docs = [make_nfe(CNPJ, OTHER, "2026-03", numero=n) for n in range(1, 26)]
    big = upload(db, big_emp, [(f"n{i}.xml", d) for i, d in enumerate(docs)])
    single = upload(db, small_emp, [("so.xml", make_nfe(OTHER_CNPJ, OTHER, numero=99))])
    first = fair_batch(db, size=10)
    assert len(first) == 10
    # the single XML sent after the big upload is not behind its 25 files
    assert [u for _, u in first].count(single) == 1 and [u for _, u in first].count(big) == 9
    batches, done = drain(db, "execucao-1", size=10)
    assert batches == 3
    assert {d["upload_id"]: d["status"] for d in done} == {big: "concluido", single: "concluido"}
    ups = {u.id: u for u in db.scalars(select(Upload).where(Upload.id.in_([big, single])))}
    assert {u.flow_run_id for u in ups.values()} == {"execucao-1"}
    assert db.scalar(select(func.count()).select_from(FiscalDocument)) == 26


def test_one_drain_completes_several_uploads_each_file_once(db: Session) -> None:
    a, b = make_empresa(db), make_empresa(db, OTHER_CNPJ)
    sale = make_nfe(CNPJ, OTHER, "2026-03", numero=1)
    ids = [
        upload(db, a, [("venda.xml", sale)]),
        upload(db, a, [("mesma-venda.xml", sale), ("lixo.xml", b"<nada/>")]),
        upload(db, b, [("b.xml", make_nfe(OTHER_CNPJ, OTHER, numero=2))]),
    ]
    too_big = UploadLimits(max_file_bytes=10, max_total_bytes=LIMITS.max_total_bytes)
    rejected = receive_upload(  # every file refused at reception: nothing pending, still done
        db, storage=get_storage(), empresa_id=b, uploaded_by="teste", limits=too_big,
        files=[IncomingFile("grande.xml", "application/xml", io.BytesIO(b"<a>" * 10))],
    ).id  # fmt: skip
    batches, done = drain(db, "execucao-2", size=500)
    assert batches == 1
    got = {d["upload_id"]: (d["status"], d["por_status"]) for d in done}
    assert got == {
        ids[0]: ("concluido", {"indexado": 1}),
        ids[1]: ("concluido_com_erros", {"duplicado": 1, "quarentena": 1}),
        ids[2]: ("concluido", {"indexado": 1}),
        rejected: ("concluido_com_erros", {"quarentena": 1}),
    }
    assert next(d for d in done if d["upload_id"] == ids[1])["erros"] == {"documento_nao_fiscal": 1}
    # a second run (a duplicate trigger, a re-run after a crash) finds nothing and changes nothing
    assert drain(db, "execucao-3", size=500) == (0, [])
    assert db.scalar(select(func.count()).select_from(FiscalDocument)) == 2
    runs = db.scalars(select(Upload.flow_run_id).where(Upload.id.in_([*ids, rejected])))
    assert set(runs) == {"execucao-2"}
    pending = select(func.count()).where(UploadFile.status == "pendente")
    assert db.scalar(pending.select_from(UploadFile)) == 0


# ---------------------------------------------------------------- dispatcher (commits)


class Orchestrator:
    """Stands in for the Prefect API: records the runs started, can be 'down'."""

    def __init__(self) -> None:
        self.runs: list[str] = []
        self.states: dict[str, tuple[str, float]] = {}
        self.down = False

    def start(self) -> str:
        if self.down:
            raise ConnectionError("Prefect fora do ar")
        run = f"run-{len(self.runs) + 1}"
        self.runs.append(run)
        self.states[run] = ("SCHEDULED", 0.0)
        return run

    def state(self, run_id: str) -> tuple[str, float] | None:
        return self.states.get(run_id)


@pytest.fixture
def waiting(clean_db: None, redis_client: Any) -> Iterator[int]:
    """One committed upload waiting for a drain run."""
    with session_scope() as s:
        emp = make_empresa(s)
        uid = upload(s, emp, [("n.xml", make_nfe(CNPJ, OTHER, numero=5))])
    yield uid


def test_dispatcher_starts_one_drainer_and_only_when_needed(waiting: int) -> None:
    prefect = Orchestrator()
    d = Dispatcher(start_run=prefect.start, run_state=prefect.state, start_grace=30)
    announce(waiting)
    assert wait_for_wake(1.0)
    assert d.tick() == "started" and prefect.runs == ["run-1"]
    assert d.tick() == "starting"  # the run has START_GRACE to reach its lease
    lease = Lease("run-1")
    assert lease.acquire() and not Lease("run-2").acquire()  # a duplicate run exits at once
    assert d.tick() == "busy"
    lease.release()
    # the lease is gone but the run has not started yet (workers busy): no second run
    from app.cache import get_redis

    get_redis().delete(key("starting"))
    assert d.tick() == "waiting" and prefect.runs == ["run-1"]
    prefect.states["run-1"] = ("PENDING", 90.0)  # its process is still starting: wait
    assert d.tick() == "waiting"
    prefect.states["run-1"] = ("RUNNING", 2.0)  # just started: about to take the lease
    assert d.tick() == "waiting"
    prefect.states["run-1"] = ("RUNNING", 60.0)  # running without a lease past the grace: dead
    assert d.tick() == "started" and prefect.runs == ["run-1", "run-2"]
    with session_scope() as s:
        drain(s, "run-2", size=500)
    get_redis().delete(key("starting"))
    assert d.tick() == "idle"
    assert get_redis().get(key("drainer")) is None


def test_dispatcher_retries_while_prefect_is_down(waiting: int) -> None:
    prefect = Orchestrator()
    prefect.down = True
    d = Dispatcher(start_run=prefect.start, run_state=prefect.state)
    assert d.tick() == "error"
    assert d.tick() == "backoff"  # waits before asking again (2, 4 … 30 s)
    prefect.down = False
    d.retry_at = 0  # the backoff elapsed
    assert d.tick() == "started" and prefect.runs == ["run-1"]
