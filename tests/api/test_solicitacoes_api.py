"""Monthly requests API: the client sees and answers its own request; files stored once."""

from __future__ import annotations

from sqlalchemy import func, select

from app.db import session_scope
from app.document_requests.service import generate_requests, seed_templates
from app.fiscal.competencia import Competencia
from models import StoredFile
from tests.api.conftest import auth
from tests.support.api import error_code


def _requests(seeded) -> None:  # type: ignore[no-untyped-def]
    with session_scope() as s:
        seed_templates(s)
        generate_requests(
            s, empresa_ids=[seeded["a"], seeded["b"]], competencia=Competencia(2026, 10)
        )


def test_client_attaches_files_and_request_closes(api_client, seeded) -> None:  # type: ignore[no-untyped-def]
    _requests(seeded)
    client = auth(seeded["client"])
    mine = api_client.get("/api/solicitacoes", headers=client).json()["itens"]
    assert len(mine) == 1 and mine[0]["empresa_id"] == seeded["a"]
    req = mine[0]
    assert {i["codigo"] for i in req["itens"]} == {
        "EXTRATOS_BANCARIOS",
        "NOTAS_COMPRA",
        "NOTAS_VENDA",
    }
    everything = api_client.get("/api/solicitacoes", headers=auth(seeded["office"])).json()["itens"]
    other = next(r for r in everything if r["empresa_id"] == seeded["b"])
    r = api_client.get(f"/api/solicitacoes/{other['id']}", headers=client)
    assert r.status_code == 404 and error_code(r) == "solicitacao_nao_encontrada"
    r = api_client.post(f"/api/solicitacoes/{other['id']}/nada-a-enviar", headers=client, json={})
    assert r.status_code == 404 and error_code(r) == "solicitacao_nao_encontrada"

    for code in ("EXTRATOS_BANCARIOS", "NOTAS_COMPRA"):
        r = api_client.post(
            f"/api/solicitacoes/{req['id']}/itens/{code}/arquivos",
            headers=client,
            files=[("arquivos", ("a.pdf", b"%PDF same", "application/pdf")),
                   ("arquivos", ("b.pdf", b"%PDF other", "application/pdf"))],
        )  # fmt: skip
        assert r.status_code == 200, r.text
    assert r.json()["situacao"] == "parcial"
    r = api_client.post(
        f"/api/solicitacoes/{req['id']}/itens/NOTAS_VENDA/arquivos",
        headers=client,
        files={"arquivos": ("c.xml", b"<nfe/>", "application/xml")},
    )
    assert r.json()["situacao"] == "concluida" and r.json()["encerrada_em"]
    with session_scope() as s:
        assert s.scalar(select(func.count()).select_from(StoredFile)) == 3  # dedup by sha256
    r = api_client.post(f"/api/solicitacoes/{req['id']}/itens/XYZ/arquivos", headers=client,
                        files={"arquivos": ("c.xml", b"<x/>", "application/xml")})  # fmt: skip
    assert r.status_code == 404 and error_code(r) == "item_nao_encontrado"

    r = api_client.post(f"/api/solicitacoes/{req['id']}/faltam-documentos", headers=client,
                        json={"itens": ["NOTAS_COMPRA"], "observacao": "Falta uma nota"})  # fmt: skip
    body = r.json()
    assert body["situacao"] == "parcial" and body["encerrada_em"] is None
    assert {i["codigo"]: i["situacao"] for i in body["itens"]}["NOTAS_COMPRA"] == "pendente"


def test_nothing_to_send(api_client, seeded) -> None:  # type: ignore[no-untyped-def]
    _requests(seeded)
    client = auth(seeded["client"])
    req = api_client.get("/api/solicitacoes?competencia=10/2026", headers=client).json()["itens"][0]
    r = api_client.post(f"/api/solicitacoes/{req['id']}/nada-a-enviar", headers=client,
                        json={"observacao": "Sem movimento em outubro"})  # fmt: skip
    assert r.status_code == 200 and r.json()["situacao"] == "nada_a_enviar"
    assert r.json()["observacao"] == "Sem movimento em outubro"
    again = api_client.post(f"/api/solicitacoes/{req['id']}/nada-a-enviar", headers=client, json={})
    assert again.status_code == 409 and error_code(again) == "solicitacao_encerrada"
    assert api_client.get("/api/solicitacoes?situacao=aberta", headers=client).json()["itens"] == []


def test_too_many_files_in_one_call_is_refused(api_client, seeded) -> None:  # type: ignore[no-untyped-def]
    _requests(seeded)
    from sqlalchemy import select

    from app.db import session_scope
    from models import DocumentRequest, RequestItem

    with session_scope() as s:
        req = s.scalar(select(DocumentRequest).where(DocumentRequest.empresa_id == seeded["a"]))
        code = s.scalar(select(RequestItem.code).where(RequestItem.request_id == req.id))
    files = [
        ("arquivos", (f"f{i}.pdf", b"%PDF-1.4 x" + bytes([i % 256]), "application/pdf"))
        for i in range(51)
    ]
    r = api_client.post(
        f"/api/solicitacoes/{req.id}/itens/{code}/arquivos",
        files=files,
        headers=auth(seeded["client"]),
    )
    assert r.status_code == 422 and error_code(r) == "arquivos_demais"
    with session_scope() as s:
        assert (
            s.scalar(
                select(RequestItem.status).where(
                    RequestItem.request_id == req.id, RequestItem.code == code
                )
            )
            == "pendente"
        )
