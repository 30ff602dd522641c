"""Upload and document routes over HTTP (in-process app, real DB/storage; Prefect unreachable).

No Prefect server runs for these tests: the API must still accept and record the upload (202,
``execucao_id`` null until a run picks it up), and a drain run's batch task processes it.
The processing itself runs through the flow's tasks (``.fn()``), as the worker would.
"""

from __future__ import annotations

import io
import zipfile
from decimal import Decimal
from typing import Any
from urllib.parse import urlparse

import pytest
from prefect.settings import PREFECT_API_URL, temporary_settings
from sqlalchemy import select, update

from app.db import session_scope
from app.fiscal.nfe import parse_bytes
from app.storage import get_storage
from models import AuditLog, FiscalDocument, StoredFile, UploadFile
from tasks.documents import (
    complete_upload,
    drain_batch,
    plan_upload,
    process_batch,
    revalidate_documents,
)
from tests.api.conftest import auth
from tests.support.api import error_code
from tests.support.generator import make_cancel_event, make_nfe

CNPJ_A = "11222333000181"  # empresa "a" of the seeded fixture
OTHER = "99888777000136"


@pytest.fixture(autouse=True)
def prefect_down() -> Any:
    """Point the Prefect client at a closed port: the orchestrator is unreachable."""
    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:9/api"}):
        yield


def _chave(xml: bytes) -> str:
    return str(parse_bytes(xml)[1].chave)


def _post(client: Any, empresa_id: int, token: str, files: list[tuple[str, bytes]]) -> Any:
    multipart = [("arquivos", (n, d, "application/xml")) for n, d in files]
    return client.post(f"/api/empresas/{empresa_id}/uploads", files=multipart, headers=auth(token))


def _run(upload_id: int) -> dict[str, Any]:
    for ids in plan_upload.fn(upload_id):
        process_batch.fn(upload_id, ids)
    return complete_upload.fn(upload_id)


def test_upload_is_accepted_recorded_and_recovered_when_prefect_is_down(api_client, seeded) -> None:  # type: ignore[no-untyped-def]
    nfe = make_nfe(CNPJ_A, OTHER, "2026-03", numero=1, value=Decimal("150.00"))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("canc.xml", make_cancel_event(_chave(nfe)))
        zf.writestr("outra.xml", make_nfe(CNPJ_A, OTHER, "2026-03", numero=2))
    r = _post(
        api_client, seeded["a"], seeded["client"], [("nota.xml", nfe), ("lote.zip", buf.getvalue())]
    )
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["arquivos"] == 3 and body["execucao_id"] is None
    uid = body["upload_id"]
    status = api_client.get(f"/api/uploads/{uid}", headers=auth(seeded["client"])).json()
    assert status["status"] == "recebido" and status["por_status"] == {"pendente": 3}
    # the stored summary names the zip's stored file in pt-BR, like every JSON field
    [zipped] = status["resumo"]["zips"]
    assert zipped["nome"] == "lote.zip" and isinstance(zipped["arquivo_id"], int), zipped
    # a drain run's batch (what the dispatcher starts once Prefect answers) processes it
    out = drain_batch.fn("execucao-de-teste")
    assert [(d["upload_id"], d["status"]) for d in out["concluidos"]] == [(uid, "concluido")]
    assert drain_batch.fn("outra-execucao")["arquivos"] == 0
    status = api_client.get(f"/api/uploads/{uid}", headers=auth(seeded["client"])).json()
    assert status["execucao_id"] == "execucao-de-teste"
    res = {f["nome"]: f for f in status["resultados"]}
    assert res["nota.xml"]["status"] == "indexado" and res["nota.xml"]["chave"] == _chave(nfe)
    assert res["lote.zip/canc.xml"]["status"] == "evento_aplicado"
    docs = api_client.get(
        "/api/documentos", params={"competencia": "2026-03", "status": "cancelada"},
        headers=auth(seeded["client"]),
    ).json()["itens"]  # fmt: skip
    assert [d["chave"] for d in docs] == [_chave(nfe)]
    assert Decimal(docs[0]["total"]) == Decimal("150.00") and docs[0]["direcao"] == "saida"
    detail = api_client.get(f"/api/documentos/{docs[0]['id']}", headers=auth(seeded["client"]))
    assert [e["tp_evento"] for e in detail.json()["eventos"]] == ["110111"]


def test_client_token_is_confined_to_its_empresa(api_client, seeded) -> None:  # type: ignore[no-untyped-def]
    nfe = make_nfe(CNPJ_A, OTHER, numero=3)
    r = _post(api_client, seeded["b"], seeded["client"], [("n.xml", nfe)])
    assert r.status_code == 403 and error_code(r) == "empresa_fora_do_escopo"
    r = api_client.get("/api/documentos", params={"empresa_id": seeded["b"]},
                       headers=auth(seeded["client"]))  # fmt: skip
    assert r.status_code == 403
    uid = _post(api_client, seeded["a"], seeded["office"], [("n.xml", nfe)]).json()["upload_id"]
    _run(uid)
    listed = api_client.get("/api/documentos", headers=auth(seeded["office"])).json()
    doc_id = listed["itens"][0]["id"]
    with session_scope() as s:  # a client token of empresa b sees nothing of a
        from app.platform.tokens import create_token

        _, token_b = create_token(s, name="cliente-b", scope="empresa", empresa_id=seeded["b"])
    r = api_client.get(f"/api/uploads/{uid}", headers=auth(token_b))
    assert r.status_code == 404 and error_code(r) == "upload_nao_encontrado"
    r = api_client.get(f"/api/documentos/{doc_id}", headers=auth(token_b))
    assert r.status_code == 404 and error_code(r) == "documento_nao_encontrado"
    r = api_client.get(f"/api/documentos/{doc_id}/download", headers=auth(token_b))
    assert r.status_code == 404 and error_code(r) == "documento_nao_encontrado"


def test_bad_files_never_answer_500(api_client, seeded) -> None:  # type: ignore[no-untyped-def]
    files = [("vazio.xml", b""), ("bin.xml", b"\x00\x01\x02"), ("zip.zip", b"PK\x03\x04junk"),
             ("ok.xml", make_nfe(CNPJ_A, OTHER, numero=9))]  # fmt: skip
    r = _post(api_client, seeded["a"], seeded["office"], files)
    assert r.status_code == 202, r.text
    result = _run(r.json()["upload_id"])
    assert result["por_status"] == {"quarentena": 3, "indexado": 1}
    r = api_client.post(f"/api/empresas/{seeded['a']}/uploads", headers=auth(seeded["office"]))
    assert r.status_code == 422


def test_download_link_and_audited_deletion(api_client, seeded) -> None:  # type: ignore[no-untyped-def]
    nfe = make_nfe(CNPJ_A, OTHER, numero=5)
    uid = _post(api_client, seeded["a"], seeded["client"], [("n.xml", nfe)]).json()["upload_id"]
    _run(uid)
    doc = api_client.get("/api/documentos", headers=auth(seeded["client"])).json()["itens"][0]
    link = api_client.get(f"/api/documentos/{doc['id']}/download", headers=auth(seeded["client"]))
    assert link.status_code == 200 and link.json()["expira_em_segundos"] > 0
    got = api_client.get(urlparse(link.json()["url"]).path)
    assert got.status_code == 200 and got.content == nfe
    # deletion: office only, with a reason, audited; the XML stays (7-year retention)
    path = f"/api/documentos/{doc['id']}"
    r = api_client.delete(
        path, params={"motivo": "lançado em duplicidade"}, headers=auth(seeded["client"])
    )
    assert r.status_code == 403 and error_code(r) == "somente_escritorio"
    r = api_client.delete(path, headers=auth(seeded["office"]))
    assert r.status_code == 422 and error_code(r) == "motivo_obrigatorio"
    r = api_client.delete(
        path, params={"motivo": "lançado em duplicidade"}, headers=auth(seeded["office"])
    )
    assert r.status_code == 200 and r.json()["arquivo_retido"] is True
    assert api_client.get(path, headers=auth(seeded["office"])).status_code == 404
    with session_scope() as s:
        row = s.scalars(select(AuditLog).where(AuditLog.action == "documento.excluido")).one()
        assert row.actor.startswith("token:") and row.reason == "lançado em duplicidade"
        assert row.at is not None and row.details["chave"] == doc["chave"]
        stored = s.scalars(select(StoredFile)).one()
        assert stored.deleted_at is None and get_storage().exists(stored.storage_key)


def test_revalidation_records_the_outcome(api_client, seeded) -> None:  # type: ignore[no-untyped-def]
    no_ns = make_nfe(CNPJ_A, OTHER, numero=6, namespace=False)  # indexed with a warning
    uid = _post(api_client, seeded["a"], seeded["office"], [("n.xml", no_ns)]).json()["upload_id"]
    _run(uid)
    out = revalidate_documents.fn(0, 50)
    assert out["counts"] == {"aviso": 1}
    doc = api_client.get("/api/documentos", headers=auth(seeded["office"])).json()["itens"][0]
    assert doc["situacao_validacao"] == "aviso"
    assert "sem_namespace" in {a["codigo"] for a in doc["avisos"]}
    assert all(set(a) <= {"codigo", "mensagem", "detalhe"} for a in doc["avisos"]), doc["avisos"]
    assert revalidate_documents.fn(out["last_id"], 50) == {"last_id": None, "counts": {}}


def test_stored_issue_lists_answer_pt_br_keys_old_rows_included(api_client, seeded) -> None:  # type: ignore[no-untyped-def]
    uid = _post(api_client, seeded["a"], seeded["office"],
                [("n.xml", make_nfe(CNPJ_A, OTHER, numero=7))]).json()["upload_id"]  # fmt: skip
    _run(uid)
    old = [{"code": "layout_antigo", "message": "Leiaute antigo.", "detail": "3.10"}]
    with session_scope() as s:  # a row written with the stored format's English keys
        doc = s.scalars(select(FiscalDocument)).one()
        doc.warnings = old
        s.execute(update(UploadFile).where(UploadFile.upload_id == uid).values(warnings=old))
        doc_id = doc.id
    want = [{"codigo": "layout_antigo", "mensagem": "Leiaute antigo.", "detalhe": "3.10"}]
    got = api_client.get(f"/api/documentos/{doc_id}", headers=auth(seeded["office"])).json()
    assert got["avisos"] == want
    got = api_client.get(f"/api/uploads/{uid}", headers=auth(seeded["office"])).json()
    assert got["resultados"][0]["avisos"] == want


def test_uploads_are_listed_and_each_received_file_downloads_as_received(
    api_client, seeded
) -> None:  # type: ignore[no-untyped-def]
    nfe = make_nfe(CNPJ_A, OTHER, numero=11)
    foreign = make_nfe(OTHER, "55666777000181", numero=12)  # quarantined: another empresa's
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("dentro/alheia.xml", foreign)
    files = [("nota.xml", nfe), ("lote.zip", buf.getvalue())]
    uid = _post(api_client, seeded["a"], seeded["client"], files).json()["upload_id"]
    _run(uid)
    other = _post(api_client, seeded["b"], seeded["office"], [("x.xml", b"<x/>")])
    other_uid = other.json()["upload_id"]
    # listing: newest first; a client token sees only its empresa's uploads, whatever it asks
    office = api_client.get("/api/uploads", headers=auth(seeded["office"])).json()["itens"]
    assert [u["id"] for u in office] == [other_uid, uid]
    mine = api_client.get("/api/uploads", headers=auth(seeded["client"])).json()["itens"]
    assert [(u["id"], u["status"], u["arquivos"]) for u in mine] == [
        (uid, "concluido_com_erros", 2)
    ]
    assert mine[0]["enviado_por"].startswith("token:")  # sent by the empresa's own token
    with session_scope() as s:  # another client token of the same empresa sees who it was
        from app.platform.tokens import create_token

        _, colleague = create_token(s, name="cliente-a-2", scope="empresa", empresa_id=seeded["a"])
    seen = api_client.get(f"/api/uploads/{uid}", headers=auth(colleague)).json()
    assert seen["enviado_por"] == mine[0]["enviado_por"]
    # An upload the office made for A holding another empresa's NF-e (quarantined as foreign):
    # A's client sees the upload and its results, but never downloads its files.
    office_up = _post(api_client, seeded["a"], seeded["office"], [("alheia.xml", foreign)])
    office_uid = office_up.json()["upload_id"]
    _run(office_uid)
    seen = api_client.get(f"/api/uploads/{office_uid}", headers=auth(seeded["client"])).json()
    assert seen["enviado_por"] == "escritório"  # the office's token names stay internal
    assert seen["resultados"][0]["erro_codigo"] == "documento_de_outra_empresa"
    path = f"/api/uploads/{office_uid}/arquivos/{seen['resultados'][0]['posicao']}/download"
    r = api_client.get(path, headers=auth(seeded["client"]))
    assert r.status_code == 403 and error_code(r) == "somente_escritorio"
    link = api_client.get(path, headers=auth(seeded["office"])).json()["url"]
    assert api_client.get(urlparse(link).path).content == foreign
    r = api_client.get("/api/uploads", params={"empresa_id": seeded["b"]},
                       headers=auth(seeded["client"]))  # fmt: skip
    assert r.status_code == 403 and error_code(r) == "empresa_fora_do_escopo"
    done = api_client.get("/api/uploads", params={"status": "concluido_com_erros"},
                          headers=auth(seeded["office"])).json()["itens"]  # fmt: skip
    assert [u["id"] for u in done] == [office_uid, uid]
    # every received file downloads exactly as received, the quarantined zip member included
    status = api_client.get(f"/api/uploads/{uid}", headers=auth(seeded["client"])).json()
    by_name = {f["nome"]: f for f in status["resultados"]}
    assert by_name["lote.zip/dentro/alheia.xml"]["erro_codigo"] == "documento_de_outra_empresa"
    for name, data in (("nota.xml", nfe), ("lote.zip/dentro/alheia.xml", foreign)):
        path = f"/api/uploads/{uid}/arquivos/{by_name[name]['posicao']}/download"
        link = api_client.get(path, headers=auth(seeded["client"]))
        assert link.status_code == 200 and link.json()["expira_em_segundos"] > 0
        got = api_client.get(urlparse(link.json()["url"]).path)
        assert got.status_code == 200 and got.content == data
        assert name.rsplit("/", 1)[-1] in got.headers.get("content-disposition", "")
    # scope and absent files: clear codes, never a 500
    r = api_client.get(
        f"/api/uploads/{other_uid}/arquivos/0/download", headers=auth(seeded["client"])
    )
    assert r.status_code == 404 and error_code(r) == "upload_nao_encontrado"
    r = api_client.get(f"/api/uploads/{uid}/arquivos/99/download", headers=auth(seeded["client"]))
    assert r.status_code == 404 and error_code(r) == "arquivo_nao_encontrado"
    r = api_client.get("/api/uploads/999999/arquivos/0/download", headers=auth(seeded["office"]))
    assert r.status_code == 404 and error_code(r) == "upload_nao_encontrado"
