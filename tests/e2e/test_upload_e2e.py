"""Upload through the real API (HTTP, token) → `processar-upload-xml` on the documentos pool,
run by a real worker → documents indexed with the right fields."""

from __future__ import annotations

import asyncio
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.db import session_scope
from app.fiscal.nfe import DocumentStatus, parse_bytes, validate
from app.platform.tokens import create_token
from models import Empresa, FiscalDocument
from tests.support.generator import make_cancel_event, make_nfe

pytestmark = pytest.mark.e2e
CORPUS = Path(__file__).resolve().parents[2].parent / "shared/corpus/nfe"
CNPJ = "11222333000181"
OTHER = "99888777000136"


def _corpus_sample() -> tuple[str, bytes, Any] | None:
    """One authorised, schema-valid 4.00 nfeProc of the public corpus (read in place)."""
    if not CORPUS.is_dir():
        return None
    for path in sorted(CORPUS.rglob("*")):
        if not path.is_file() or path.suffix.lower() != ".xml":
            continue
        try:
            tree, doc = parse_bytes(path.read_bytes())
        except Exception:  # noqa: BLE001 - unsafe/malformed samples are not candidates
            continue
        doc = validate(doc, tree)
        if (
            doc.root == "nfeProc"
            and doc.version == "4.00"
            and doc.ok
            and (doc.status is DocumentStatus.AUTHORISED)
        ):
            return path.name, path.read_bytes(), doc
    return None


def _wait_final(flow_run_id: str, timeout: float = 120) -> Any:
    from prefect.client.orchestration import get_client

    async def go() -> Any:
        deadline = time.monotonic() + timeout
        async with get_client() as client:
            while time.monotonic() < deadline:
                fr = await client.read_flow_run(uuid.UUID(flow_run_id))
                if fr.state and fr.state.is_final():
                    return fr
                await asyncio.sleep(0.5)
        raise AssertionError("flow run did not finish")

    return asyncio.run(go())


def test_upload_is_processed_by_the_documentos_worker(platform, clean_db) -> None:  # type: ignore[no-untyped-def]
    sample = _corpus_sample()
    with session_scope() as s:
        emp = Empresa(cnpj=CNPJ, razao_social="Padaria Pão Bom", regime="SIMPLES", uf="SP",
                      ibge_code="3550308")  # fmt: skip
        s.add(emp)
        real_emp = None
        if sample is not None:
            real_emp = Empresa(cnpj=sample[2].emit_doc, razao_social="Emitente do corpus",
                               regime="REAL", uf="SP", ibge_code="3550308")  # fmt: skip
            s.add(real_emp)
        s.flush()
        _, token = create_token(s, name="e2e", scope="office")
        emp_id, real_id = emp.id, (real_emp.id if real_emp else None)
    sale = make_nfe(CNPJ, OTHER, "2026-02", numero=77, items=4, value=Decimal("432.10"))
    cancelled = make_nfe(OTHER, CNPJ, "2026-02", numero=78)
    chave_c = str(parse_bytes(cancelled)[1].chave)
    files = [
        ("arquivos", ("cancelamento.xml", make_cancel_event(chave_c), "application/xml")),
        ("arquivos", ("venda.xml", sale, "application/xml")),
        ("arquivos", ("compra.xml", cancelled, "application/xml")),
        ("arquivos", ("lixo.xml", b"<nada/>", "application/xml")),
    ]
    base = f"http://127.0.0.1:{platform.api_port}"
    headers = {"Authorization": f"Bearer {token}"}
    runs = []
    r = httpx.post(
        f"{base}/api/empresas/{emp_id}/uploads", files=files, headers=headers, timeout=30
    )
    assert r.status_code == 202, r.text
    assert r.json()["flow_run_id"], r.json()
    runs.append(r.json())
    if sample is not None:
        r = httpx.post(f"{base}/api/empresas/{real_id}/uploads", headers=headers, timeout=30,
                       files=[("arquivos", (sample[0], sample[1], "application/xml"))])  # fmt: skip
        assert r.status_code == 202, r.text
        runs.append(r.json())
    for run in runs:
        fr = _wait_final(run["flow_run_id"])
        assert fr.state.is_completed(), fr.state
        assert fr.work_pool_name == "documentos"
    status = httpx.get(f"{base}/api/uploads/{runs[0]['upload_id']}", headers=headers).json()
    got = {f["nome"]: (f["status"], f["erro_codigo"]) for f in status["resultados"]}
    assert got == {
        "cancelamento.xml": ("evento_aplicado", None),
        "venda.xml": ("indexado", None),
        "compra.xml": ("indexado", None),
        "lixo.xml": ("quarentena", "documento_nao_fiscal"),
    }
    assert status["status"] == "concluido_com_erros"
    with session_scope() as s:
        docs = {d.chave: d for d in s.scalars(select(FiscalDocument))}
        v = docs[str(parse_bytes(sale)[1].chave)]
        assert (v.direction, v.status, v.total, v.competencia, v.item_count) == (
            "saida", "autorizada", Decimal("432.10"), "2026-02", 4,
        )  # fmt: skip
        c = docs[chave_c]
        assert (c.direction, c.status) == ("entrada", "cancelada") and c.cancelled_at
        if sample is not None:
            real = docs[str(sample[2].chave)]
            assert real.empresa_id == real_id and real.emitter_doc == sample[2].emit_doc
            assert real.total == sample[2].fields["v_nf"] and real.status == "autorizada"


def test_validar_documentos_finishes_an_upload_whose_run_died(platform, clean_db) -> None:  # type: ignore[no-untyped-def]
    """A flow run that died mid-upload (Crashed) leaves pending files: the daily
    validar-documentos run, on the documentos worker, processes them; an upload whose run is
    still Running is left to it."""
    import io

    from prefect import flow as prefect_flow
    from prefect.client.orchestration import get_client
    from prefect.states import Crashed, Running
    from sqlalchemy import text

    from app.documents.ingest import ingest_batch, pending_file_ids
    from app.documents.reception import IncomingFile, UploadLimits, mark_triggered, receive_upload
    from app.storage import get_storage
    from models import Upload, UploadFile

    from .conftest import run_and_wait

    @prefect_flow(name="execucao-interrompida-de-teste")
    def stand_in() -> None:  # a flow run record only: no deployment, no worker picks it up
        return None

    async def runs() -> tuple[str, str]:
        async with get_client() as client:
            dead = await client.create_flow_run(stand_in, state=Crashed())
            alive = await client.create_flow_run(stand_in, state=Running())
            return str(dead.id), str(alive.id)

    dead_run, alive_run = asyncio.run(runs())
    docs = [make_nfe(CNPJ, OTHER, "2026-03", numero=n, value=Decimal("10.00")) for n in range(1, 6)]
    limits = UploadLimits(max_file_bytes=5 * 1024 * 1024, max_total_bytes=50 * 1024 * 1024)
    with session_scope() as s:
        emp = Empresa(cnpj=CNPJ, razao_social="Padaria", regime="SIMPLES", uf="SP",
                      ibge_code="3550308")  # fmt: skip
        s.add(emp)
        s.flush()

        def receive(files: list[bytes], run: str) -> int:
            up = receive_upload(
                s, storage=get_storage(), empresa_id=emp.id, uploaded_by="e2e", limits=limits,
                files=[IncomingFile(f"n{i}.xml", "application/xml", io.BytesIO(d))
                       for i, d in enumerate(files)],
            )  # fmt: skip
            mark_triggered(s, upload_id=up.id, flow_run_id=run)
            up.status = "processando"
            return up.id

        died, busy = receive(docs[:3], dead_run), receive(docs[3:], alive_run)
        s.flush()
        first = pending_file_ids(s, upload_id=died)[0]
        ingest_batch(s, storage=get_storage(), upload_id=died, file_ids=[first])  # then it died
        for table, col in (("uploads", "id"), ("upload_files", "upload_id")):
            s.execute(
                text(f"UPDATE {table} SET updated_at = now() - interval '1 hour' "
                     f"WHERE {col} = ANY(:ids)"),
                {"ids": [died, busy]},
            )  # fmt: skip
    fr = run_and_wait("validar-documentos/validar-documentos", timeout=180)
    assert fr.state.is_completed(), fr.state
    assert fr.work_pool_name == "documentos"
    with session_scope() as s:
        d, b = s.get(Upload, died), s.get(Upload, busy)
        assert d is not None and b is not None
        assert (d.status, d.flow_run_id) == ("concluido", str(fr.id))
        assert (b.status, b.flow_run_id) == ("processando", alive_run)  # its run may still work
        got = s.execute(
            select(UploadFile.upload_id, UploadFile.status).where(
                UploadFile.upload_id.in_([died, busy])
            )
        ).all()
        assert sorted(st for u, st in got if u == died) == ["indexado"] * 3
        assert sorted(st for u, st in got if u == busy) == ["pendente"] * 2
        indexed = s.scalars(
            select(FiscalDocument.chave).where(FiscalDocument.empresa_id == d.empresa_id)
        )
        assert sorted(indexed) == sorted(str(parse_bytes(x)[1].chave) for x in docs[:3])
