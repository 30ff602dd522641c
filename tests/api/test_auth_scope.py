"""Every route but health needs a token; a client token sees only its own empresa."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import auth
from tests.support.api import error_code


def test_routes_require_a_token(api_client, seeded) -> None:  # type: ignore[no-untyped-def]
    for path in ("/api/me", "/api/empresas", f"/api/empresas/{seeded['a']}"):
        r = api_client.get(path)
        assert r.status_code == 401
        assert error_code(r) == "token_invalido"
    r = api_client.get("/api/me", headers=auth("ctb_forjado"))
    assert r.status_code == 401


def test_every_route_except_health_and_signed_files_is_authenticated(api_client) -> None:  # type: ignore[no-untyped-def]
    spec = api_client.get("/api/openapi.json").json()
    public = {"/api/health", "/api/live", "/api/files/{token}", "/api/whatsapp/webhook"}
    for path, ops in spec["paths"].items():
        if path in public:
            continue
        for method in ops:
            r = api_client.request(method.upper(), path.replace("{", "").replace("}", ""))
            assert r.status_code == 401, f"{method} {path} answered {r.status_code} without a token"


def test_client_token_sees_only_its_empresa(api_client, seeded) -> None:  # type: ignore[no-untyped-def]
    h = auth(seeded["client"])
    r = api_client.get("/api/empresas", headers=h)
    assert [e["id"] for e in r.json()["itens"]] == [seeded["a"]]
    assert (r.json()["total"], r.json()["limite"], r.json()["deslocamento"]) == (1, 100, 0)
    assert api_client.get(f"/api/empresas/{seeded['a']}", headers=h).status_code == 200
    # another empresa answers exactly like one that does not exist (no existence oracle)
    r = api_client.get(f"/api/empresas/{seeded['b']}", headers=h)
    assert r.status_code == 404 and error_code(r) == "empresa_nao_encontrada"
    assert r.json() == api_client.get("/api/empresas/987654321", headers=h).json()
    # the office sees both the existing empresa and the 404 of a missing one
    office = auth(seeded["office"])
    assert api_client.get(f"/api/empresas/{seeded['b']}", headers=office).status_code == 200
    assert api_client.get("/api/empresas/987654321", headers=office).json() == r.json()


def test_office_token_sees_all(api_client, seeded) -> None:  # type: ignore[no-untyped-def]
    r = api_client.get("/api/empresas", headers=auth(seeded["office"]))
    assert {e["id"] for e in r.json()["itens"]} == {seeded["a"], seeded["b"]}
    assert api_client.get("/api/me", headers=auth(seeded["office"])).json()["escopo"] == "office"


def test_revoked_token_is_refused(api_client, seeded) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from app.db import session_scope
    from app.platform.tokens import hash_token, revoke_token
    from models import ApiToken, AuditLog

    with session_scope() as s:
        tid = s.scalar(
            select(ApiToken.id).where(ApiToken.token_hash == hash_token(seeded["client"]))
        )
        revoke_token(s, token_id=tid, actor="teste", reason="vazou")
    assert api_client.get("/api/me", headers=auth(seeded["client"])).status_code == 401
    with session_scope() as s:
        assert (
            s.scalar(select(AuditLog.reason).where(AuditLog.action == "token.revogado")) == "vazou"
        )


def test_tokens_are_stored_hashed(seeded) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from app.db import session_scope
    from models import ApiToken

    with session_scope() as s:
        stored = list(s.scalars(select(ApiToken.token_hash)))
    assert seeded["office"] not in stored and len(stored) == 2


def test_unknown_route_and_bad_input_never_500(api_client, seeded) -> None:  # type: ignore[no-untyped-def]
    r = api_client.get("/api/nada")
    assert r.status_code == 404 and error_code(r) == "rota_nao_encontrada"
    r = api_client.get("/api/empresas/abc", headers=auth(seeded["office"]))
    assert r.status_code == 422 and error_code(r) == "requisicao_invalida"


def test_authentication_belongs_to_the_router_and_public_routes_are_explicit() -> None:
    """A route added to any authenticated module is protected without a line of its own; the
    public ones are the few on the public router (plus health/liveness)."""
    from fastapi.routing import APIRoute

    from app.api.deps import authenticated
    from app.api.router import api_router, public_router

    assert [d.dependency for d in api_router.dependencies] == [authenticated]
    assert not public_router.dependencies

    def paths(router: Any) -> set[str]:
        out: set[str] = set()
        for r in router.routes:
            if isinstance(r, APIRoute):
                out.add(r.path)
            elif hasattr(r, "original_router"):  # FastAPI ≥ 0.150 includes routers lazily
                out |= {router.prefix + p for p in paths(r.original_router)}
        return out

    assert paths(public_router) == {
        "/api/files/{token}",
        "/api/guias/abrir/{token}",
        "/api/whatsapp/webhook",
    }
