"""Office registers reachable through the API: holidays, custom obligations, per-empresa
obligation overrides and token revocation — office only (a client token gets 403
``somente_escritorio``), every change audited."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.db import session_scope
from app.fiscal.competencia import Competencia
from app.obligations.catalogue import reconcile_assignments, sync_catalogue
from models import AuditLog
from tests.api.conftest import auth
from tests.support.api import error_code

CUSTOM = {
    "code": "TFF-SP",
    "name": "Taxa de Fiscalização de Funcionamento",
    "periodicity": "monthly",
    "due": {"kind": "fixed_day", "day": 10, "months_after": 1},
    "non_business_day": "postpone",
    "applies_to": [{"regimes": ["SIMPLES"]}],
    "department": "fiscal",
    "generates_guide": False,
    "lead_time_business_days": 2,
    "legal_source": "Lei municipal de teste",
}


def _audit(action: str) -> list[tuple[str, str | None, Any]]:
    with session_scope() as s:
        rows = s.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id))
        return [(r.actor, r.reason, r.details) for r in rows]


def _refused(r: Any) -> bool:
    return r.status_code == 403 and error_code(r) == "somente_escritorio"


def test_holidays_are_registered_listed_and_removed_by_the_office(api_client, seeded) -> None:  # type: ignore[no-untyped-def]
    office, client = auth(seeded["office"]), auth(seeded["client"])
    body = {"dia": "2026-01-25", "nome": "Aniversário de São Paulo", "codigo_ibge": "3550308"}
    assert _refused(api_client.post("/api/feriados", json=body, headers=client))
    r = api_client.post("/api/feriados", json=body, headers=office)
    assert r.status_code == 201, r.text
    hid = r.json()["id"]
    assert r.json() | {"id": 0} == {"id": 0, "dia": "2026-01-25", "uf": None,
                                    "nome": "Aniversário de São Paulo", "codigo_ibge": "3550308"}  # fmt: skip
    assert api_client.post("/api/feriados", json=body, headers=office).json()["id"] == hid
    assert _refused(api_client.get("/api/feriados", headers=client))
    listed = api_client.get("/api/feriados", params={"ano": 2026}, headers=office).json()
    assert [h["id"] for h in listed["itens"]] == [hid] and listed["total"] == 1
    bad = api_client.post("/api/feriados", json=body | {"dia": "25/01/2026"}, headers=office)
    assert bad.status_code == 422 and error_code(bad) == "data_invalida"
    wrong_uf = api_client.post("/api/feriados", json=body | {"uf": "RJ"}, headers=office)
    assert wrong_uf.status_code == 422 and error_code(wrong_uf) == "uf_invalida"
    assert _refused(api_client.delete(f"/api/feriados/{hid}", headers=client))
    r = api_client.delete(f"/api/feriados/{hid}", params={"motivo": "lei revogada"}, headers=office)
    assert r.status_code == 200 and r.json()["id"] == hid
    again = api_client.delete(f"/api/feriados/{hid}", headers=office)
    assert again.status_code == 404 and error_code(again) == "feriado_nao_encontrado"
    [(actor, _, details)] = _audit("feriado.cadastrado")
    assert actor.startswith("token:") and details["ibge"] == "3550308"
    assert [reason for _, reason, _ in _audit("feriado.removido")] == ["lei revogada"]


def test_custom_obligations_are_created_and_switched_by_the_office(api_client, seeded) -> None:  # type: ignore[no-untyped-def]
    office, client = auth(seeded["office"]), auth(seeded["client"])
    with session_scope() as s:
        sync_catalogue(s)
    assert _refused(api_client.post("/api/obrigacoes", json={"regra": CUSTOM}, headers=client))
    r = api_client.post("/api/obrigacoes", json={"regra": CUSTOM}, headers=office)
    assert r.status_code == 201, r.text
    assert (r.json()["codigo"], r.json()["personalizada"], r.json()["ativa"]) == (
        "TFF-SP", True, True,
    )  # fmt: skip
    dup = api_client.post("/api/obrigacoes", json={"regra": CUSTOM}, headers=office)
    assert dup.status_code == 409 and error_code(dup) == "obrigacao_duplicada"
    bad = api_client.post("/api/obrigacoes", json={"regra": {"code": "X"}}, headers=office)
    assert bad.status_code == 422 and error_code(bad) == "obrigacao_invalida"
    only = api_client.get("/api/obrigacoes?personalizadas=true", headers=office).json()
    assert [o["codigo"] for o in only["itens"]] == ["TFF-SP"]
    assert _refused(
        api_client.patch("/api/obrigacoes/TFF-SP", json={"ativa": False}, headers=client)
    )
    off = api_client.patch(
        "/api/obrigacoes/TFF-SP", json={"ativa": False, "motivo": "taxa extinta"}, headers=office
    )
    assert off.status_code == 200 and off.json()["ativa"] is False
    das = api_client.patch("/api/obrigacoes/DAS", json={"ativa": False}, headers=office)
    assert das.status_code == 409 and error_code(das) == "obrigacao_do_catalogo"
    assert [d["codigo"] for _, _, d in _audit("obrigacao.personalizada_criada")] == ["TFF-SP"]
    assert [r for _, r, _ in _audit("obrigacao.personalizada_desativada")] == ["taxa extinta"]


def test_an_empresas_obligation_is_overridden_by_the_office(api_client, seeded) -> None:  # type: ignore[no-untyped-def]
    office, client = auth(seeded["office"]), auth(seeded["client"])
    with session_scope() as s:
        sync_catalogue(s)
        reconcile_assignments(s, empresa_ids=[seeded["a"]], effective=Competencia(2026, 1))
    path = f"/api/empresas/{seeded['a']}/obrigacoes/DAS"
    body = {"sobrescritas": {"lead_time_business_days": 5}}
    assert _refused(api_client.put(path, json=body, headers=client))
    r = api_client.put(path, json=body, headers=office)
    assert r.status_code == 200, r.text
    assert r.json()["sobrescritas"] == {"lead_time_business_days": 5} and r.json()["ativa"]
    listed = api_client.get(f"/api/empresas/{seeded['a']}/obrigacoes", headers=client).json()
    das = next(o for o in listed["itens"] if o["obrigacao"] == "DAS")
    assert das["sobrescritas"] == {"lead_time_business_days": 5}
    bad = api_client.put(path, json={"sobrescritas": {"due": "amanhã"}}, headers=office)
    assert bad.status_code == 422 and error_code(bad) == "sobrescrita_invalida"
    unknown = api_client.put(f"/api/empresas/{seeded['a']}/obrigacoes/NADA", json=body,
                             headers=office)  # fmt: skip
    assert unknown.status_code == 404
    assert error_code(unknown) == "obrigacao_desconhecida"
    [(_, _, details)] = _audit("empresa.obrigacao_ajustada")
    assert details["codigo"] == "DAS"


def test_the_office_lists_and_revokes_tokens(api_client, seeded) -> None:  # type: ignore[no-untyped-def]
    office, client = auth(seeded["office"]), auth(seeded["client"])
    assert _refused(api_client.get("/api/tokens", headers=client))
    listed = api_client.get("/api/tokens", headers=office).json()
    assert {t["nome"] for t in listed["itens"]} == {"equipe", "cliente-a"}
    assert seeded["client"] not in str(listed)  # never the token, only its prefix
    cid = next(t["id"] for t in listed["itens"] if t["nome"] == "cliente-a")
    assert seeded["client"].startswith(next(t["prefixo"] for t in listed["itens"]
                                            if t["id"] == cid))  # fmt: skip
    own = next(t["id"] for t in listed["itens"] if t["nome"] == "equipe")
    assert _refused(api_client.post(f"/api/tokens/{own}/revogar", json={"motivo": "x" * 5},
                                    headers=client))  # fmt: skip
    r = api_client.post(f"/api/tokens/{cid}/revogar", json={"motivo": "vazou"}, headers=office)
    assert r.status_code == 200 and r.json()["revogado_em"] is not None
    assert api_client.get("/api/me", headers=client).status_code == 401
    active = api_client.get("/api/tokens", headers=office).json()["itens"]
    assert [t["nome"] for t in active] == ["equipe"]
    everything = api_client.get("/api/tokens?revogados=true", headers=office).json()
    assert everything["total"] == 2
    missing = api_client.post("/api/tokens/987654/revogar", json={"motivo": "x" * 5},
                              headers=office)  # fmt: skip
    assert missing.status_code == 404
    assert error_code(missing) == "token_nao_encontrado"
    assert [reason for _, reason, _ in _audit("token.revogado")] == ["vazou"]
