"""Scope matrix: a client token of empresa A never reads or changes what belongs to empresa B.

Every route of the app (the OpenAPI paths plus the routes hidden from the schema) must have a
case in ``CASES``; a new route without one fails ``test_every_route_has_a_scope_case`` with
"add a scope case for …". Real rows are created for both empresas, the client of A calls every
route aimed at B's objects, and B's rows are compared before and after: nothing may change.

No existence oracle: B's object answers the client of A exactly like an id that does not exist
(the same 404 body), so ids of other empresas cannot be probed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from fastapi.routing import APIRoute
from sqlalchemy import func, select

from app.db import session_scope
from app.document_requests.service import generate_requests, seed_templates
from app.fiscal.competencia import Competencia
from app.guides import ledger
from app.obligations.catalogue import reconcile_assignments, sync_catalogue
from app.obligations.holidays import add_holiday
from app.obligations.tarefas import generate_tarefas
from app.orders.service import Attachment, open_order
from app.platform.tokens import create_token
from app.storage import get_storage
from models import (
    AuditLog,
    CompanyObligation,
    DocumentRequest,
    FiscalDocument,
    Guide,
    Notification,
    Order,
    OrderAttachment,
    PayrollEntry,
    RequestItem,
    RevenueEntry,
    StoredFile,
    Tarefa,
    Upload,
    UploadFile,
)
from tests.api.conftest import auth
from tests.support.api import error_body, error_code

B_CNPJ = "12ABC34501DE35"
B_MARKERS = (B_CNPJ, "Oficina Roda Viva", "MARCADOR-B")

World = dict[str, dict[str, Any]]  # "a"/"b" → {"empresa": id, "guia": id, …}


@dataclass(frozen=True)
class Case:
    """How a client token of A is expected to fare on one route.

    kind: ``object`` (path names B's object → the 404 of a missing id, body for body),
    ``collection`` (acting on B's collection, e.g. uploading for B → 403 empresa_fora_do_escopo,
    the same answer as for an empresa that does not exist), ``office_only`` (403 for any client,
    on A's and on B's objects), ``list`` (``empresa_id=B`` → 403 or no row of B), ``self`` (the
    caller's own view, never B's data), ``public`` (no token; authenticated otherwise, e.g. an
    HMAC-signed link or webhook: forged credentials never give 200).
    """

    kind: str
    params: dict[str, str] = field(default_factory=dict)  # path param → world key
    json: Callable[[dict[str, Any]], Any] | None = None
    data: Callable[[dict[str, Any]], dict[str, str]] | None = None
    files: Callable[[dict[str, Any]], list[tuple[str, tuple[str, bytes, str]]]] | None = None
    query: Callable[[dict[str, Any]], dict[str, Any]] | None = None


PDF = ("c.pdf", b"%PDF-1.4 teste", "application/pdf")

CASES: dict[tuple[str, str], Case] = {
    ("GET", "/api/health"): Case("public"),
    ("GET", "/api/live"): Case("public"),
    ("GET", "/api/files/{token}"): Case("public", params={"token": "forged"}),
    ("GET", "/api/guias/abrir/{token}"): Case("public", params={"token": "forged"}),
    ("GET", "/api/whatsapp/webhook"): Case("public"),
    ("POST", "/api/whatsapp/webhook"): Case("public", json=lambda o: {"entry": []}),
    ("GET", "/api/me"): Case("self"),
    ("GET", "/api/empresas"): Case("self"),
    ("POST", "/api/empresas"): Case(
        "office_only",
        json=lambda o: {
            "cnpj": "11444777000161",
            "razao_social": "Nova Empresa Ltda",
            "regime": "SIMPLES",
            "uf": "SP",
            "codigo_ibge": "3550308",
        },
    ),
    ("GET", "/api/empresas/{empresa_id}"): Case("object", params={"empresa_id": "empresa"}),
    ("PATCH", "/api/empresas/{empresa_id}"): Case(
        "office_only", params={"empresa_id": "empresa"}, json=lambda o: {"razao_social": "Mudou"}
    ),
    ("GET", "/api/empresas/{empresa_id}/obrigacoes"): Case(
        "object", params={"empresa_id": "empresa"}
    ),
    ("POST", "/api/empresas/{empresa_id}/uploads"): Case(
        "collection",
        params={"empresa_id": "empresa"},
        files=lambda o: [("arquivos", ("n.xml", b"<nfeProc/>", "application/xml"))],
    ),
    ("GET", "/api/empresas/{empresa_id}/receitas"): Case(
        "office_only",
        params={"empresa_id": "empresa"},
        query=lambda o: {"inicio": "2026-01", "fim": "2026-06"},
    ),
    ("POST", "/api/empresas/{empresa_id}/receitas"): Case(
        "office_only",
        params={"empresa_id": "empresa"},
        json=lambda o: {"competencia": "2026-02", "anexo": "I", "origem": "ajuste", "valor": "1"},
    ),
    ("POST", "/api/empresas/{empresa_id}/folha"): Case(
        "office_only",
        params={"empresa_id": "empresa"},
        json=lambda o: {"competencia": "2026-02", "valor": "1000.00"},
    ),
    ("GET", "/api/uploads/{upload_id}"): Case("object", params={"upload_id": "upload"}),
    ("GET", "/api/uploads"): Case("list"),
    ("GET", "/api/uploads/{upload_id}/arquivos/{posicao}/download"): Case(
        "object", params={"upload_id": "upload", "posicao": "posicao"}
    ),
    ("GET", "/api/documentos"): Case("list"),
    ("GET", "/api/documentos/{document_id}"): Case("object", params={"document_id": "documento"}),
    ("GET", "/api/documentos/{document_id}/download"): Case(
        "object", params={"document_id": "documento"}
    ),
    ("DELETE", "/api/documentos/{document_id}"): Case(
        "office_only",
        params={"document_id": "documento"},
        query=lambda o: {"motivo": "exclusão de teste"},
    ),
    ("GET", "/api/notificacoes"): Case("office_only"),
    ("GET", "/api/escritorio/configuracoes"): Case("office_only"),
    ("PUT", "/api/escritorio/configuracoes/{chave}"): Case(
        "office_only", params={"chave": "configuracao"}, json=lambda o: {"dia": 10}
    ),
    ("POST", "/api/notificacoes/{notification_id}/reenfileirar"): Case(
        "office_only", params={"notification_id": "notificacao"}, json=lambda o: {"motivo": "x"}
    ),
    ("GET", "/api/guias"): Case("list"),
    ("GET", "/api/guias/{guide_id}"): Case("object", params={"guide_id": "guia"}),
    ("POST", "/api/guias/{guide_id}/documento"): Case(
        "office_only",
        params={"guide_id": "guia"},
        data=lambda o: {"valor": "10,00"},
        files=lambda o: [("arquivo", PDF)],
    ),
    ("POST", "/api/guias/{guide_id}/pagamento"): Case(
        "object", params={"guide_id": "guia"}, files=lambda o: [("comprovante", PDF)]
    ),
    ("POST", "/api/guias/{guide_id}/reenvio"): Case(
        "object", params={"guide_id": "guia"}, json=lambda o: {"motivo": "cliente pediu"}
    ),
    ("GET", "/api/guias/{guide_id}/download"): Case("object", params={"guide_id": "guia"}),
    ("GET", "/api/guias/{guide_id}/protocolo"): Case("object", params={"guide_id": "guia"}),
    ("GET", "/api/tarefas"): Case("list"),
    ("GET", "/api/tarefas/{tarefa_id}"): Case("object", params={"tarefa_id": "tarefa"}),
    ("POST", "/api/tarefas/{tarefa_id}/concluir"): Case(
        "office_only", params={"tarefa_id": "tarefa"}, files=lambda o: [("protocolo", PDF)]
    ),
    ("POST", "/api/tarefas/{tarefa_id}/dispensar"): Case(
        "office_only", params={"tarefa_id": "tarefa"}, json=lambda o: {"motivo": "não se aplica"}
    ),
    ("GET", "/api/feriados"): Case("office_only", query=lambda o: {"ano": "2026"}),
    ("POST", "/api/feriados"): Case(
        "office_only", json=lambda o: {"dia": "2026-11-20", "nome": "Consciência Negra", "uf": "SP"}
    ),
    ("DELETE", "/api/feriados/{feriado_id}"): Case(
        "office_only", params={"feriado_id": "feriado"}, query=lambda o: {"motivo": "engano"}
    ),
    ("GET", "/api/obrigacoes"): Case("office_only"),
    ("POST", "/api/obrigacoes"): Case(
        "office_only", json=lambda o: {"regra": {"code": "TAXA-X", "name": "Taxa municipal"}}
    ),
    ("PATCH", "/api/obrigacoes/{codigo}"): Case(
        "office_only", params={"codigo": "obrigacao"}, json=lambda o: {"ativa": False}
    ),
    ("PUT", "/api/empresas/{empresa_id}/obrigacoes/{codigo}"): Case(
        "office_only",
        params={"empresa_id": "empresa", "codigo": "obrigacao"},
        json=lambda o: {"sobrescritas": {"lead_time_business_days": 5}},
    ),
    ("GET", "/api/tokens"): Case("office_only"),
    ("POST", "/api/tokens/{token_id}/revogar"): Case(
        "office_only", params={"token_id": "token"}, json=lambda o: {"motivo": "vazou"}
    ),
    ("GET", "/api/solicitacoes"): Case("list"),
    ("GET", "/api/solicitacoes/{request_id}"): Case("object", params={"request_id": "solicitacao"}),
    ("POST", "/api/solicitacoes/{request_id}/itens/{codigo}/arquivos"): Case(
        "object",
        params={"request_id": "solicitacao", "codigo": "item"},
        files=lambda o: [("arquivos", PDF)],
    ),
    ("POST", "/api/solicitacoes/{request_id}/nada-a-enviar"): Case(
        "object", params={"request_id": "solicitacao"}, json=lambda o: {"observacao": "x"}
    ),
    ("POST", "/api/solicitacoes/{request_id}/faltam-documentos"): Case(
        "object", params={"request_id": "solicitacao"}, json=lambda o: {"observacao": "x"}
    ),
    ("GET", "/api/pedidos/tipos"): Case("self"),
    ("GET", "/api/pedidos"): Case("list"),
    ("POST", "/api/empresas/{empresa_id}/pedidos"): Case(
        "collection",
        params={"empresa_id": "empresa"},
        data=lambda o: {"tipo": "certidao_negativa", "descricao": "CND"},
        files=lambda o: [("anexos", PDF)],
    ),
    ("GET", "/api/pedidos/{pedido_id}"): Case("object", params={"pedido_id": "pedido"}),
    ("POST", "/api/pedidos/{pedido_id}/mensagens"): Case(
        "object", params={"pedido_id": "pedido"}, json=lambda o: {"texto": "olá"}
    ),
    ("POST", "/api/pedidos/{pedido_id}/anexos"): Case(
        "object", params={"pedido_id": "pedido"}, files=lambda o: [("anexos", PDF)]
    ),
    ("POST", "/api/pedidos/{pedido_id}/cancelar"): Case(
        "object", params={"pedido_id": "pedido"}, json=lambda o: {"motivo": "x"}
    ),
    ("POST", "/api/pedidos/{pedido_id}/atribuir"): Case(
        "office_only", params={"pedido_id": "pedido"}, json=lambda o: {"responsavel_id": 1}
    ),
    ("POST", "/api/pedidos/{pedido_id}/situacao"): Case(
        "office_only", params={"pedido_id": "pedido"}, data=lambda o: {"situacao": "em_andamento"}
    ),
    ("GET", "/api/pedidos/{pedido_id}/anexos/{anexo_id}/download"): Case(
        "object", params={"pedido_id": "pedido", "anexo_id": "anexo_pedido"}
    ),
}


@contextmanager
def in_process_client() -> Iterator[Any]:
    """The app in process; a crash is a 500 answer here, as a real client would see it."""
    from fastapi.testclient import TestClient

    from app.api.main import create_app

    with TestClient(create_app(), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def http() -> Iterator[Any]:
    """An HTTP client of the app that reports crashes as 500 answers."""
    with in_process_client() as client:
        yield client


def app_routes() -> set[tuple[str, str]]:
    """Every (method, path) the app serves: the OpenAPI paths plus routes hidden from it."""
    from app.api.main import create_app

    app = create_app()
    out = {(m.upper(), p) for p, ops in app.openapi()["paths"].items() for m in ops}

    def walk(routes: list[Any], prefix: str) -> None:
        for r in routes:
            if isinstance(r, APIRoute):
                out.update((m, prefix + r.path) for m in r.methods or () if m != "HEAD")
            elif hasattr(r, "original_router"):  # FastAPI ≥ 0.150 includes routers lazily
                walk(r.original_router.routes, prefix + r.include_context.prefix)

    walk(app.routes, "")
    return out


def test_every_route_has_a_scope_case() -> None:
    missing = sorted(app_routes() - set(CASES))
    assert not missing, "add a scope case for " + ", ".join(f"{m} {p}" for m, p in missing)
    stale = sorted(set(CASES) - app_routes())
    assert not stale, f"scope cases for routes that no longer exist: {stale}"


# ------------------------------------------------------------------------------ the world


def _objects(s: Any, empresa_id: int, tag: str) -> dict[str, Any]:
    """A stored XML, document, upload, notification and guide of one empresa."""
    xml = f"<nfeProc><emit>MARCADOR-{tag}</emit></nfeProc>".encode()
    sha = hashlib.sha256(xml).hexdigest()
    key = f"escopo/{empresa_id}/{sha}.xml"
    get_storage().put(key, xml, content_type="application/xml")
    sf = StoredFile(
        empresa_id=empresa_id, sha256=sha, size=len(xml), content_type="application/xml",
        original_name=f"nota-{tag}.xml", storage_key=key, uploaded_by="teste",
    )  # fmt: skip
    s.add(sf)
    s.flush()
    doc = FiscalDocument(
        empresa_id=empresa_id, stored_file_id=sf.id, chave=f"{empresa_id:044d}", kind="nfe",
        modelo="55", competencia="2026-05", direction="saida", emitter_name=f"MARCADOR-{tag}",
        total=Decimal("100.00"), status="autorizada", issued_at=datetime(2026, 5, 3, tzinfo=UTC),
    )  # fmt: skip
    up = Upload(empresa_id=empresa_id, uploaded_by="teste", file_count=1, status="concluido")
    notif = Notification(
        idempotency_key=f"escopo:{tag}", empresa_id=empresa_id, channel="email",
        recipient=f"marcador-{tag.lower()}@cliente.test", template="guia_disponivel",
        status="falhou", last_error=f"MARCADOR-{tag}",
    )  # fmt: skip
    s.add_all([doc, up, notif])
    s.flush()
    s.add(UploadFile(upload_id=up.id, position=0, original_name=f"nota-{tag}.xml",
                     stored_file_id=sf.id, status="indexado", document_id=doc.id))  # fmt: skip
    tarefa = s.scalars(
        select(Tarefa).where(Tarefa.empresa_id == empresa_id).order_by(Tarefa.id)
    ).first()
    assert tarefa is not None
    guide = Guide(
        empresa_id=empresa_id, obligation_id=tarefa.obligation_id, tarefa_id=tarefa.id,
        competencia=tarefa.competencia, kind="DAS", amount=Decimal("75.90"),
        due_date=tarefa.due_date, status="pronta", calculation={"nota": f"MARCADOR-{tag}"},
    )  # fmt: skip
    s.add(guide)
    s.flush()
    req = s.scalars(select(DocumentRequest).where(DocumentRequest.empresa_id == empresa_id)).one()
    req.client_note = f"MARCADOR-{tag}"
    item = s.scalars(
        select(RequestItem).where(RequestItem.request_id == req.id).order_by(RequestItem.id)
    ).first()
    assert item is not None
    pedido = open_order(
        s, empresa_id=empresa_id, kind="certidao_negativa", description=f"MARCADOR-{tag}",
        files=[Attachment(f"cnd-{tag}.pdf", "application/pdf", b"%PDF-1.4 MARCADOR-" + tag.encode())],
        actor="teste",
    )  # fmt: skip
    return {
        "pedido": pedido.id,
        "anexo_pedido": s.scalars(
            select(OrderAttachment.id).where(OrderAttachment.order_id == pedido.id)
        ).one(),
        "empresa": empresa_id,
        "documento": doc.id,
        "upload": up.id,
        "posicao": 0,
        "notificacao": notif.id,
        "tarefa": tarefa.id,
        "guia": guide.id,
        "solicitacao": req.id,
        "item": item.code,
        "configuracao": "dia_geracao_guias",  # office-wide: the same for A and B
        "obrigacao": "DAS",
        "feriado": add_holiday(
            s, day=date(2026, 7, 9), name=f"Feriado {tag}", uf="SP", actor="teste"
        ).id,
        "token": create_token(s, name=f"integracao-{tag.lower()}", scope="empresa",
                              empresa_id=empresa_id)[0].id,
    }  # fmt: skip


@pytest.fixture
def world(seeded: dict[str, Any]) -> World:
    """Real rows of every kind for empresa A and empresa B."""
    return build_world(seeded)


def build_world(seeded: dict[str, Any]) -> World:
    """Tarefas, requests, documents, uploads, notifications, guides and ledger rows of A and B."""
    a, b = seeded["a"], seeded["b"]
    with session_scope() as s:
        sync_catalogue(s)
        reconcile_assignments(s, empresa_ids=[a, b], effective=Competencia(2026, 1))
        generate_tarefas(s, empresa_ids=[a, b], competencias=[Competencia(2026, 5)])
        seed_templates(s)
        generate_requests(s, empresa_ids=[a, b], competencia=Competencia(2026, 5))
        out = {"a": _objects(s, a, "A"), "b": _objects(s, b, "B")}
        for e in (a, b):
            ledger.set_entry(
                s, empresa_id=e, competencia="2026-03", anexo="I", source="historico",
                amount=Decimal("5000.00"), actor="teste", note="MARCADOR",
            )  # fmt: skip
            ledger.set_payroll(
                s, empresa_id=e, competencia="2026-03", amount=Decimal("1500.00"), actor="teste"
            )
    return out


def _snapshot(empresa_id: int) -> str:
    """Everything that belongs to one empresa, as comparable text."""
    models: list[Any] = [
        Guide, Tarefa, DocumentRequest, Notification, FiscalDocument, Upload, StoredFile,
        RevenueEntry, PayrollEntry, CompanyObligation, Order,
    ]  # fmt: skip
    out: dict[str, Any] = {}
    with session_scope() as s:
        from models import Empresa

        emp = s.get(Empresa, empresa_id)
        assert emp is not None
        out["empresa"] = {c.name: getattr(emp, c.key) for c in Empresa.__mapper__.columns}
        for model in models:
            rows = s.scalars(
                select(model).where(model.empresa_id == empresa_id).order_by(model.id)
            ).all()
            cols = [c for c in model.__mapper__.columns if c.key != "updated_at"]
            out[model.__tablename__] = [{c.key: getattr(r, c.key) for c in cols} for r in rows]
        out["items"] = [
            (i.code, i.status, i.file_id)
            for i in s.scalars(
                select(RequestItem)
                .join(DocumentRequest, DocumentRequest.id == RequestItem.request_id)
                .where(DocumentRequest.empresa_id == empresa_id)
                .order_by(RequestItem.id)
            )
        ]
        out["audit"] = s.scalar(
            select(func.count()).select_from(AuditLog).where(AuditLog.empresa_id == empresa_id)
        )
    return json.dumps(out, default=str, sort_keys=True)


def _call(client: Any, method: str, path: str, case: Case, objs: dict[str, Any], headers: Any):  # type: ignore[no-untyped-def]
    values = {p: (objs[k] if k in objs else k) for p, k in case.params.items()}
    url = path.format(**values)
    kwargs: dict[str, Any] = {"headers": headers}
    if case.query:
        kwargs["params"] = case.query(objs)
    if case.json:
        kwargs["json"] = case.json(objs)
    if case.data:
        kwargs["data"] = case.data(objs)
    if case.files:
        kwargs["files"] = case.files(objs)
    return client.request(method, url, follow_redirects=False, **kwargs)


def _assert_no_b_data(r: Any, where: str) -> None:
    for marker in B_MARKERS:
        assert marker not in r.text, f"{where}: response carries data of empresa B ({marker})"


def _assert_denied(r: Any, where: str, allowed: tuple[int, ...] = (403, 404)) -> None:
    assert r.status_code in allowed, f"{where}: client of A got {r.status_code}: {r.text[:300]}"
    assert set(error_body(r)) >= {"codigo", "mensagem"}, where
    _assert_no_b_data(r, where)


MISSING_ID = 987654321


def _missing(objs: dict[str, Any]) -> dict[str, Any]:
    """The same objects with every id swapped for one that does not exist."""
    keep = {"posicao", "item", "configuracao", "obrigacao"}
    return {k: (v if k in keep else MISSING_ID) for k, v in objs.items()}


ENVELOPE = {"itens", "total", "limite", "deslocamento"}


def _items(body: Any) -> list[dict[str, Any]]:
    """The rows of a listing: every listing answers the one paged envelope."""
    assert isinstance(body, dict) and set(body) == ENVELOPE, f"not the list envelope: {body}"
    return list(body["itens"])


# ------------------------------------------------------------------------------ the matrix


def test_client_of_a_never_reaches_b(http, seeded, world) -> None:  # type: ignore[no-untyped-def]
    client, office = auth(seeded["client"]), auth(seeded["office"])
    a, b = world["a"], world["b"]
    for (method, path), case in sorted(CASES.items()):
        if case.kind == "object" and method == "GET":  # B's object exists: the office reads it
            ok = _call(http, method, path, case, b, office)
            assert ok.status_code == 200, f"{method} {path}: office got {ok.status_code} {ok.text}"
    for (method, path), case in sorted(CASES.items()):
        where = f"{method} {path}"
        before = _snapshot(b["empresa"])
        if case.kind == "object":
            r = _call(http, method, path, case, b, client)
            _assert_denied(r, where, allowed=(404,))
            missing = _call(http, method, path, case, _missing(b), client)
            assert r.json() == missing.json(), f"{where}: B's object != a missing id: {r.text}"
        elif case.kind == "collection":
            r = _call(http, method, path, case, b, client)
            _assert_denied(r, where, allowed=(403,))
            assert error_code(r) == "empresa_fora_do_escopo", where
            missing = _call(http, method, path, case, _missing(b), client)
            assert (missing.status_code, missing.json()) == (403, r.json()), where
        elif case.kind == "office_only":
            for objs in (a, b):
                r = _call(http, method, path, case, objs, client)
                _assert_denied(r, where, allowed=(403,))
        elif case.kind == "list":
            r = http.get(path, params={"empresa_id": b["empresa"]}, headers=client)
            assert r.status_code in (200, 403), f"{where}?empresa_id=B: {r.status_code}"
            _assert_no_b_data(r, where)
            if r.status_code == 200:
                assert {i["empresa_id"] for i in _items(r.json())} <= {a["empresa"]}, where
            mine = http.get(path, headers=client)
            assert mine.status_code == 200, f"{where}: {mine.status_code} {mine.text}"
            assert {i["empresa_id"] for i in _items(mine.json())} == {a["empresa"]}, where
            _assert_no_b_data(mine, where)
            seen = http.get(path, params={"empresa_id": b["empresa"]}, headers=office)
            assert {i["empresa_id"] for i in _items(seen.json())} == {b["empresa"]}, where
        elif case.kind == "self":
            r = _call(http, method, path, case, a, client)
            assert r.status_code == 200, where
            _assert_no_b_data(r, where)
        elif case.kind == "public":
            for headers in ({}, client):
                r = _call(http, method, path, case, b, headers)
                _assert_no_b_data(r, where)
                if path not in {"/api/health", "/api/live"}:  # 503 there = Prefect is down
                    assert r.status_code in (401, 403), f"{where}: forged access {r.status_code}"
        else:  # pragma: no cover - a typo in CASES
            raise AssertionError(f"unknown kind {case.kind}")
        assert _snapshot(b["empresa"]) == before, f"{where}: client of A changed data of B"


def test_office_only_routes_refuse_the_client_on_its_own_objects(http, seeded, world) -> None:  # type: ignore[no-untyped-def]
    before = _snapshot(world["a"]["empresa"])
    for (method, path), case in sorted(CASES.items()):
        if case.kind != "office_only":
            continue
        r = _call(http, method, path, case, world["a"], auth(seeded["client"]))
        assert r.status_code == 403, f"{method} {path}: {r.status_code} {r.text[:200]}"
    assert _snapshot(world["a"]["empresa"]) == before


def test_unknown_object_ids_are_404_not_500(http, seeded, world) -> None:  # type: ignore[no-untyped-def]
    missing = {
        k: MISSING_ID for k in world["b"] if k not in {"item", "configuracao", "obrigacao"}
    } | {"item": "NAO_EXISTE", "configuracao": "nao_existe", "obrigacao": "NAO-EXISTE"}
    # a client gets 404 on object routes, 403 where the route itself is closed to it
    expected = {"object": (404, 404), "collection": (404, 403), "office_only": (404, 403)}
    wrong: list[str] = []
    for (method, path), case in sorted(CASES.items()):
        if case.kind not in expected or not case.params:
            continue
        for who, status in zip(("office", "client"), expected[case.kind], strict=True):
            r = _call(http, method, path, case, missing, auth(seeded[who]))
            if r.status_code != status:
                wrong.append(f"{who} {method} {path}: {r.status_code} {r.text[:120]}")
    assert not wrong, "unknown ids must be 404 (403 for a client on a closed route):\n" + "\n".join(
        wrong
    )


OBJECT_ROUTES = sorted(k for k, c in CASES.items() if c.kind == "object")


def test_object_routes_are_every_route_with_an_object_id() -> None:
    # a new route taking an object id is an "object" case (or an office-only one, on purpose)
    assert len(OBJECT_ROUTES) >= 16
    for (method, path), case in CASES.items():
        if case.params and case.kind not in {"object", "office_only", "collection", "public"}:
            raise AssertionError(f"{method} {path}: object ids need an object/office_only case")


@pytest.mark.parametrize(
    ("method", "path"), OBJECT_ROUTES, ids=[f"{m} {p}" for m, p in OBJECT_ROUTES]
)
def test_another_empresas_object_answers_like_a_missing_id(  # type: ignore[no-untyped-def]
    http, seeded, world, method, path
) -> None:
    """The client of A cannot tell B's object from an id that does not exist."""
    client, office = auth(seeded["client"]), auth(seeded["office"])
    case = CASES[(method, path)]
    before = _snapshot(world["b"]["empresa"])
    other = _call(http, method, path, case, world["b"], client)
    missing = _call(http, method, path, case, _missing(world["b"]), client)
    assert other.status_code == missing.status_code == 404, (other.text, missing.text)
    assert other.json() == missing.json()
    assert error_code(other).endswith(("_nao_encontrado", "_nao_encontrada"))
    assert other.headers.get("content-type") == missing.headers.get("content-type")
    assert _snapshot(world["b"]["empresa"]) == before, "the client of A changed data of B"
    # the office still tells them apart, and the client still reaches its own objects
    assert _call(http, method, path, case, _missing(world["b"]), office).json() == missing.json()
    if method == "GET":
        assert _call(http, method, path, case, world["b"], office).status_code == 200
        mine = _call(http, method, path, case, world["a"], client)
        assert mine.status_code == 200 or error_code(mine) == "somente_escritorio", mine.text
