"""Ingest on the worker-process pool (as the flow runs it) gives exactly the in-process results.

Real PostgreSQL, local storage and real spawned worker processes; batches of 3 with the next
batch classified ahead (``next_file_ids``), so the prefetch path is crossed by every case.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Executor
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.documents.classify_pool import classify_pool
from app.documents.ingest import ingest_batch, pending_file_ids
from app.documents.lifecycle import finish_upload
from app.storage import get_storage
from models import StoredFile
from tests.services.test_documents_ingest import (
    CNPJ,
    OTHER,
    chave_of,
    doc_by_chave,
    files_of,
    make_empresa,
    upload,
)
from tests.services.test_zip_members import _zip
from tests.support.generator import make_cancel_event, make_nfe

THIRD = "11444777000161"


@pytest.fixture(scope="module")
def pool() -> Iterator[Executor]:
    """Two spawned worker processes for the whole module."""
    with classify_pool(2) as p:
        assert p is not None
        yield p


def _process(session: Session, upload_id: int, pool: Executor | None) -> dict[str, Any]:
    ids = pending_file_ids(session, upload_id=upload_id)
    batches = [ids[i : i + 3] for i in range(0, len(ids), 3)]
    for k, batch in enumerate(batches):
        ahead = batches[k + 1] if k + 1 < len(batches) else None
        ingest_batch(
            session,
            storage=get_storage(),
            upload_id=upload_id,
            file_ids=batch,
            pool=pool,
            next_file_ids=ahead,
        )
    return finish_upload(session, upload_id=upload_id)


@pytest.mark.parametrize("on_pool", [False, True], ids=["in-process", "process-pool"])
def test_pool_and_in_process_ingest_agree(db: Session, pool: Executor, on_pool: bool) -> None:
    emp = make_empresa(db)
    sale = make_nfe(CNPJ, OTHER, "2026-05", numero=10, items=3, value=Decimal("300.00"))
    late = make_nfe(CNPJ, OTHER, "2026-05", numero=11)
    files = [
        ("cancel-first.xml", make_cancel_event(chave_of(late))),
        ("sale.xml", sale),
        ("purchase.xml", make_nfe(OTHER, CNPJ, "2026-04", numero=7, value=Decimal("99.90"))),
        ("foreign.xml", make_nfe(OTHER, THIRD, numero=3)),
        ("broken.xml", b"<nfeProc><NFe>"),
        ("pdf.xml", b"%PDF-1.4 binary"),
        ("copy.xml", sale.replace(b"<nfeProc", b"<nfeProc ", 1)),
        ("late.xml", late),
    ]
    up = upload(db, emp, files)
    result = _process(db, up, pool if on_pool else None)
    outcomes = [(f.original_name, f.status, f.error_code) for f in files_of(db, up)]
    assert outcomes == [
        ("cancel-first.xml", "evento_aplicado", None),
        ("sale.xml", "indexado", None),
        ("purchase.xml", "indexado", None),
        ("foreign.xml", "quarentena", "documento_de_outra_empresa"),
        ("broken.xml", "quarentena", "xml_malformado"),
        ("pdf.xml", "quarentena", "nao_e_xml"),
        ("copy.xml", "duplicado", None),
        ("late.xml", "indexado", None),
    ]
    assert result["status"] == "concluido_com_erros"
    d = doc_by_chave(db, emp, chave_of(sale))
    assert (d.total, d.item_count, d.cfops, d.competencia) == (Decimal("300.00"), 3, ["5102"],
                                                               "2026-05")  # fmt: skip
    assert d.issued_at is not None and d.issued_at.tzinfo is not None
    assert d.validation["erros"] == [] and d.validation_status == "valido"
    cancelled = doc_by_chave(db, emp, chave_of(late))
    assert cancelled.status == "cancelada" and cancelled.cancelled_at is not None
    assert _process(db, up, pool if on_pool else None)["por_status"] == result["por_status"]


def test_pool_workers_read_zip_members_themselves(db: Session, pool: Executor) -> None:
    """Members travel to the workers as references; a worker checks each against its sha256."""
    emp = make_empresa(db)
    docs = {f"n{i}.xml": make_nfe(CNPJ, OTHER, "2026-06", numero=500 + i) for i in range(7)}
    up = upload(db, emp, [("lote.zip", _zip(docs)), ("solta.xml", make_nfe(OTHER, CNPJ))])
    zipped = db.scalars(select(StoredFile).where(StoredFile.original_name == "lote.zip")).one()
    result = _process(db, up, pool)
    assert result["por_status"] == {"indexado": 8}, result
    for data in docs.values():
        assert doc_by_chave(db, emp, chave_of(data)).status == "autorizada"

    # The same member names with other bytes (an overwritten object) are never indexed.
    renamed = {f"x{i}.xml": data for i, data in enumerate(docs.values())}
    received = {name: make_nfe(CNPJ, OTHER, "2026-07", numero=900 + i) for i, name in
                enumerate(renamed)}  # fmt: skip
    up2 = upload(db, emp, [("lote2.zip", _zip(received))])
    second = db.scalars(select(StoredFile).where(StoredFile.original_name == "lote2.zip")).one()
    get_storage().put(second.storage_key, _zip(renamed))
    assert _process(db, up2, pool)["erros"] == {"conteudo_corrompido": 7}
    assert zipped.container_id is None  # the zip itself is an object of its own
