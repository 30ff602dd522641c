"""Upload through the real API (HTTP, token) → the API's dispatcher starts a drain run of
`processar-upload-xml` on the documentos pool, run by a real worker → documents indexed with
the right fields, and the upload names the run that processed it."""

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

# the session's platform (minutes on a busy machine) may start inside the first test's time
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]
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


def wait_uploads_done(ids: list[int], timeout: float = 420) -> dict[int, Any]:
    """Poll the database until every upload is finished; return them by id."""
    from models import Upload

    deadline = time.monotonic() + timeout
    while True:
        with session_scope() as s:
            ups = {u.id: u for u in s.scalars(select(Upload).where(Upload.id.in_(ids)))}
            s.expunge_all()
        if all(u.status not in ("recebido", "processando") for u in ups.values()):
            return ups
        if time.monotonic() > deadline:
            late = {i: u.status for i, u in ups.items() if u.status in ("recebido", "processando")}
            raise AssertionError(f"uploads not finished in {timeout}s: {late}")
        time.sleep(0.5)


def read_run(flow_run_id: str) -> Any:
    """The flow run, from the Prefect API."""
    from prefect.client.orchestration import get_client

    async def go() -> Any:
        async with get_client() as client:
            fr = await client.read_flow_run(uuid.UUID(flow_run_id))
            flow = await client.read_flow(fr.flow_id)
            return fr, flow.name

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
    assert r.json()["execucao_id"] is None, r.json()  # named once a run picks it up
    runs.append(r.json())
    if sample is not None:
        r = httpx.post(f"{base}/api/empresas/{real_id}/uploads", headers=headers, timeout=30,
                       files=[("arquivos", (sample[0], sample[1], "application/xml"))])  # fmt: skip
        assert r.status_code == 202, r.text
        runs.append(r.json())
    done = wait_uploads_done([run["upload_id"] for run in runs])
    for up in done.values():
        fr, flow_name = read_run(str(up.flow_run_id))
        assert flow_name == "processar-upload-xml" and fr.work_pool_name == "documentos"
        assert fr.state.is_running() or fr.state.is_completed(), fr.state  # it may linger
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


@pytest.mark.load
def test_an_upload_whose_run_died_is_finished_without_an_operator(platform, clean_db) -> None:  # type: ignore[no-untyped-def]
    """A run that died mid-upload (Crashed) left pending files: the dispatcher's next drain run
    (or the daily validar-documentos, whichever comes first) finishes it, each file once."""
    import io

    from prefect import flow as prefect_flow
    from prefect.client.orchestration import get_client
    from prefect.states import Crashed
    from sqlalchemy import func

    from app.documents.ingest import ingest_batch, pending_file_ids
    from app.documents.reception import IncomingFile, UploadLimits, mark_triggered, receive_upload
    from app.storage import get_storage
    from models import UploadFile

    from .conftest import run_and_wait

    @prefect_flow(name="execucao-interrompida-de-teste")
    def stand_in() -> None:  # a flow run record only: no deployment, no worker picks it up
        return None

    async def dead() -> str:
        async with get_client() as client:
            return str((await client.create_flow_run(stand_in, state=Crashed())).id)

    dead_run = asyncio.run(dead())
    docs = [make_nfe(CNPJ, OTHER, "2026-03", numero=n, value=Decimal("10.00")) for n in range(1, 4)]
    limits = UploadLimits(max_file_bytes=5 * 1024 * 1024, max_total_bytes=50 * 1024 * 1024)
    with session_scope() as s:
        emp = Empresa(cnpj=CNPJ, razao_social="Padaria", regime="SIMPLES", uf="SP",
                      ibge_code="3550308")  # fmt: skip
        s.add(emp)
        s.flush()
        up = receive_upload(
            s, storage=get_storage(), empresa_id=emp.id, uploaded_by="e2e", limits=limits,
            files=[IncomingFile(f"n{i}.xml", "application/xml", io.BytesIO(d))
                   for i, d in enumerate(docs)],
        )  # fmt: skip
        mark_triggered(s, upload_id=up.id, flow_run_id=dead_run)
        up.status = "processando"
        s.flush()
        first = pending_file_ids(s, upload_id=up.id)[0]
        ingest_batch(s, storage=get_storage(), upload_id=up.id, file_ids=[first])  # then it died
        died, emp_id = up.id, emp.id
    fr = run_and_wait("validar-documentos/validar-documentos", timeout=180)
    assert fr.state.is_completed(), fr.state
    assert fr.work_pool_name == "documentos"
    d = wait_uploads_done([died])[died]
    assert d.status == "concluido" and d.flow_run_id not in (None, dead_run)
    with session_scope() as s:
        got = s.scalars(select(UploadFile.status).where(UploadFile.upload_id == died)).all()
        assert sorted(got) == ["indexado"] * 3
        n = s.scalar(select(func.count()).where(FiscalDocument.empresa_id == emp_id))
        assert n == 3
