"""Empresa registration and changes answer bad input with stable codes, never a 500.

Found by a schemathesis run against the API (10,602 requests): explicit nulls for required
fields, staff ids that do not exist and NUL characters reached the database and came back as
500s; a responsible that no longer exists made tarefa generation fail for a whole chunk of
empresas.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from app.db import session_scope
from app.fiscal.competencia import Competencia
from app.obligations.catalogue import reconcile_assignments, sync_catalogue
from app.obligations.tarefas import generate_tarefas
from models import Empresa, Staff, Tarefa
from tests.api.conftest import auth
from tests.support.api import error_code, error_message

NEW = {"cnpj": "11444777000161", "razao_social": "Nova Empresa Ltda", "regime": "SIMPLES",
       "uf": "SP", "codigo_ibge": "3550308"}  # fmt: skip


COMP = Competencia.parse("2026-05")


def _error(r: Any) -> tuple[int, str]:
    return r.status_code, error_code(r)


def _staff(name: str) -> int:
    with session_scope() as s:
        staff = Staff(name=name, email=f"{name.split()[0].lower()}@escritorio.test")
        s.add(staff)
        s.flush()
        return staff.id


@pytest.mark.parametrize(
    "field",
    ["razao_social", "regime", "tem_empregados", "tem_retencoes", "prestador_de_servicos",
     "caracteristicas", "responsaveis", "ativa"],
)  # fmt: skip
def test_null_for_a_required_field_is_refused_and_nothing_changes(
    api_client: Any, seeded: dict[str, Any], field: str
) -> None:
    path = f"/api/empresas/{seeded['a']}"
    before = api_client.get(path, headers=auth(seeded["office"])).json()
    r = api_client.patch(path, json={field: None}, headers=auth(seeded["office"]))
    assert _error(r) in ((422, "campo_obrigatorio"), (422, "regime_desconhecido")), r.text
    assert api_client.get(path, headers=auth(seeded["office"])).json() == before


def test_unknown_staff_is_refused_on_create_and_change(
    api_client: Any, seeded: dict[str, Any]
) -> None:
    office = auth(seeded["office"])
    for body in ({"responsavel_id": 999999}, {"responsaveis": {"fiscal": 999999}}):
        r = api_client.post("/api/empresas", json=NEW | body, headers=office)
        assert _error(r) == (422, "responsavel_desconhecido"), r.text
        assert "999999" in error_message(r)
        r = api_client.patch(f"/api/empresas/{seeded['a']}", json=body, headers=office)
        assert _error(r) == (422, "responsavel_desconhecido"), r.text
    staff_id = _staff("Ana Fiscal")
    r = api_client.patch(f"/api/empresas/{seeded['a']}",
                         json={"responsaveis": {"fiscal": staff_id}}, headers=office)  # fmt: skip
    assert r.status_code == 200, r.text
    with session_scope() as s:
        emp = s.get(Empresa, seeded["a"])
        assert emp is not None and emp.responsibles == {"fiscal": staff_id}


def test_framework_errors_have_stable_codes_in_portuguese(
    api_client: Any, seeded: dict[str, Any]
) -> None:
    office = auth(seeded["office"])
    r = api_client.post("/api/empresas", content=b'{"cnpj": ', headers=office | {
        "Content-Type": "application/json"})  # fmt: skip
    assert _error(r) == (422, "requisicao_invalida"), r.text  # JSON: FastAPI validates it
    r = api_client.post(f"/api/empresas/{seeded['a']}/uploads", content=b"--x\r\nlixo",
                        headers=office | {"Content-Type": "multipart/form-data"})  # fmt: skip
    assert _error(r) == (400, "corpo_invalido") and "malformado" in error_message(r)
    r = api_client.request("TRACE", "/api/documentos/1", headers=office)
    assert _error(r) == (405, "metodo_nao_permitido") and "GET" in r.headers["allow"]
    # Allow names every method of the path, also when separate routes serve them.
    paths = api_client.get("/api/openapi.json").json()["paths"]
    several = {p: sorted(ops) for p, ops in paths.items() if len(ops) > 1}
    assert len(several) >= 4
    for path, methods in several.items():
        url = re.sub(r"\{[^}]+\}", "1", path)
        wrong = next(m for m in ("put", "patch", "delete") if m not in methods)
        r = api_client.request(wrong.upper(), url, headers=office)
        assert _error(r) == (405, "metodo_nao_permitido"), (path, r.text)
        assert sorted(r.headers["allow"].lower().split(", ")) == methods, path
    r = api_client.get("/api/nao-existe", headers=office)
    assert _error(r) == (404, "rota_nao_encontrada") and error_message(r) == (
        "Rota não encontrada."
    )
    r = api_client.patch(f"/api/empresas/{seeded['a']}", json={"razao_social": "ab\u0000cd"},
                         headers=office)  # fmt: skip
    assert _error(r) == (422, "caractere_invalido"), r.text
    staff_id = _staff("Bia Fiscal")
    r = api_client.patch(f"/api/empresas/{seeded['a']}",
                         json={"responsaveis": {"fis\u0000cal": staff_id}}, headers=office)  # fmt: skip
    assert _error(r) == (422, "caractere_invalido"), r.text  # a NUL inside a JSON column


def test_a_responsible_who_left_does_not_break_tarefa_generation(clean_db: None) -> None:
    with session_scope() as s:
        sync_catalogue(s)
        gone = Staff(name="Saiu da Empresa", email="saiu@escritorio.test")
        s.add(gone)
        s.flush()
        emps = []
        for cnpj in ("11222333000181", "11444777000161"):
            e = Empresa(cnpj=cnpj, razao_social=f"E {cnpj}", regime="SIMPLES", uf="SP",
                        ibge_code="3550308", responsibles={"fiscal": gone.id})  # fmt: skip
            s.add(e)
            emps.append(e)
        s.flush()
        reconcile_assignments(s, empresa_ids=[e.id for e in emps], effective=COMP)
        ids = [e.id for e in emps]
        s.delete(gone)  # responsibles is JSON: nothing stops the staff row from going away
    with session_scope() as s:
        created = generate_tarefas(s, empresa_ids=ids, competencias=[COMP])
        assert created >= 2
        rows = s.execute(select(Tarefa.empresa_id, Tarefa.responsible_staff_id)).all()
    assert {e for e, _ in rows} == set(ids) and {r for _, r in rows} == {None}
