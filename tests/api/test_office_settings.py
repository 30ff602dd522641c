"""Office settings: operators change generation days and reminder cycles without a redeploy."""

from __future__ import annotations

from sqlalchemy import select

from app.db import session_scope
from app.guides.generation import generation_day
from models import AuditLog
from tests.api.conftest import auth
from tests.support.api import error_code


def test_office_changes_the_guide_generation_day(api_client, seeded) -> None:  # type: ignore[no-untyped-def]
    h = auth(seeded["office"])
    listed = {
        s["chave"]: s
        for s in api_client.get("/api/escritorio/configuracoes", headers=h).json()["itens"]
    }
    assert listed["dia_geracao_guias"]["valor"] == {"dia": 5}
    r = api_client.put(
        "/api/escritorio/configuracoes/dia_geracao_guias", json={"dia": 12}, headers=h
    )
    assert r.status_code == 200 and r.json()["valor"] == {"dia": 12}
    with session_scope() as s:
        assert generation_day(s) == 12
        audit = s.scalar(select(AuditLog).where(AuditLog.action == "configuracao.alterada"))
        assert audit is not None and audit.details["antes"] == {"dia": 5}


def test_invalid_or_unknown_settings_are_refused(api_client, seeded) -> None:  # type: ignore[no-untyped-def]
    h = auth(seeded["office"])
    r = api_client.put(
        "/api/escritorio/configuracoes/dia_geracao_guias", json={"dia": 31}, headers=h
    )
    assert r.status_code == 422 and error_code(r) == "valor_invalido"
    r = api_client.put(
        "/api/escritorio/configuracoes/dia_geracao_guias", json={"hora": 3}, headers=h
    )
    assert r.status_code == 422 and error_code(r) == "campo_desconhecido"
    r = api_client.put("/api/escritorio/configuracoes/qualquer", json={"dia": 3}, headers=h)
    assert r.status_code == 404
    r = api_client.put(
        "/api/escritorio/configuracoes/dia_geracao_guias",
        json={"dia": 3},
        headers=auth(seeded["client"]),
    )
    assert r.status_code == 403
