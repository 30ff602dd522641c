"""Tarefas API: scoped listing and filters, completion with protocol, dispensation, empresas."""

from __future__ import annotations

from sqlalchemy import select

from app.db import session_scope
from app.fiscal.competencia import Competencia
from app.obligations.catalogue import reconcile_assignments, sync_catalogue
from app.obligations.tarefas import generate_tarefas
from models import AuditLog, StoredFile, Tarefa
from tests.api.conftest import auth
from tests.support.api import error_code


def _generate(seeded) -> None:  # type: ignore[no-untyped-def]
    with session_scope() as s:
        sync_catalogue(s)
        reconcile_assignments(
            s, empresa_ids=[seeded["a"], seeded["b"]], effective=Competencia(2026, 1)
        )
        generate_tarefas(
            s, empresa_ids=[seeded["a"], seeded["b"]], competencias=[Competencia(2026, 5)]
        )


def test_client_sees_only_its_empresa_and_filters_work(api_client, seeded) -> None:  # type: ignore[no-untyped-def]
    _generate(seeded)
    office, client = auth(seeded["office"]), auth(seeded["client"])
    everything = api_client.get("/api/tarefas", headers=office).json()
    assert {t["empresa_id"] for t in everything["itens"]} == {seeded["a"], seeded["b"]}
    mine = api_client.get("/api/tarefas", headers=client).json()
    assert mine["total"] == 1 and mine["itens"][0]["obrigacao"] == "DAS"
    assert mine["itens"][0]["vencimento"] == "2026-06-22"
    r = api_client.get(f"/api/tarefas?empresa_id={seeded['b']}", headers=client)
    assert r.status_code == 403 and error_code(r) == "empresa_fora_do_escopo"
    other = next(t for t in everything["itens"] if t["empresa_id"] == seeded["b"])
    r = api_client.get(f"/api/tarefas/{other['id']}", headers=client)
    assert r.status_code == 404 and error_code(r) == "tarefa_nao_encontrada"
    window = api_client.get(
        "/api/tarefas?vencimento_de=2026-06-22&vencimento_ate=2026-06-22&departamento=fiscal",
        headers=office,
    ).json()
    assert {t["obrigacao"] for t in window["itens"]} == {"DAS", "DAS-MEI"}
    assert api_client.get("/api/tarefas?situacao=vencida", headers=office).json()["total"] == 0
    r = api_client.get("/api/tarefas?competencia=13/2026", headers=office)
    assert r.status_code == 422 and error_code(r) == "competencia_invalida"


def test_complete_with_protocol_and_dispense(api_client, seeded) -> None:  # type: ignore[no-untyped-def]
    _generate(seeded)
    office, client = auth(seeded["office"]), auth(seeded["client"])
    das = api_client.get("/api/tarefas", headers=client).json()["itens"][0]
    r = api_client.post(f"/api/tarefas/{das['id']}/concluir", headers=client)
    assert r.status_code == 403 and error_code(r) == "somente_escritorio"
    r = api_client.post(
        f"/api/tarefas/{das['id']}/concluir",
        headers=office,
        files={"protocolo": ("recibo.pdf", b"%PDF-1.4 recibo", "application/pdf")},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["situacao"] == "concluida" and body["concluida_por"].endswith(":equipe")
    assert body["concluida_em"] and body["protocolo_arquivo_id"]
    with session_scope() as s:
        assert s.get(StoredFile, body["protocolo_arquivo_id"]).purpose == "protocolo"
    again = api_client.post(f"/api/tarefas/{das['id']}/concluir", headers=office)
    assert again.status_code == 409 and error_code(again) == "tarefa_ja_concluida"

    other = api_client.get(f"/api/tarefas?empresa_id={seeded['b']}", headers=office).json()
    tid = other["itens"][0]["id"]
    r = api_client.post(f"/api/tarefas/{tid}/dispensar", headers=office, json={"motivo": ""})
    assert r.status_code == 422
    r = api_client.post(f"/api/tarefas/{tid}/dispensar", headers=office,
                        json={"motivo": "Empresa sem movimento"})  # fmt: skip
    assert r.status_code == 200 and r.json()["situacao"] == "dispensada"
    with session_scope() as s:
        audit = s.scalar(select(AuditLog).where(AuditLog.action == "tarefa.dispensada"))
        assert audit.reason == "Empresa sem movimento" and audit.actor.endswith(":equipe")
    assert api_client.post("/api/tarefas/999999/dispensar", headers=office,
                           json={"motivo": "xyz"}).status_code == 404  # fmt: skip


def test_register_and_change_empresa(api_client, seeded) -> None:  # type: ignore[no-untyped-def]
    office = auth(seeded["office"])
    with session_scope() as s:
        sync_catalogue(s)
    body = {"cnpj": "34.567.890/0001-??", "razao_social": "Nova Ltda", "regime": "SIMPLES",
            "uf": "SP", "codigo_ibge": "3550308", "inicio": "2026-10"}  # fmt: skip
    r = api_client.post("/api/empresas", headers=office, json=body)
    assert r.status_code == 422 and error_code(r) == "cnpj_invalido"
    body["cnpj"] = "11.444.777/0001-61"
    r = api_client.post("/api/empresas", headers=auth(seeded["client"]), json=body)
    assert r.status_code == 403
    r = api_client.post("/api/empresas", headers=office, json=body)
    assert r.status_code == 201, r.text
    eid = r.json()["id"]
    codes = {
        o["obrigacao"]
        for o in api_client.get(f"/api/empresas/{eid}/obrigacoes", headers=office).json()["itens"]
    }
    assert codes == {"DAS", "DEFIS"}
    assert api_client.post("/api/empresas", headers=office, json=body).status_code == 409
    r = api_client.patch(
        f"/api/empresas/{eid}",
        headers=office,
        json={"tem_empregados": True, "vigencia": "2026-11", "motivo": "Contratou funcionário"},
    )
    assert r.status_code == 200, r.text
    assert "FGTS" in r.json()["mudancas"]["abertas"]
    with session_scope() as s:
        comps = set(s.scalars(select(Tarefa.competencia).where(Tarefa.empresa_id == eid)))
        fgts = s.scalars(
            select(Tarefa.competencia).where(
                Tarefa.empresa_id == eid, Tarefa.department == "pessoal"
            )
        ).all()
    assert "2026-10" in comps and "2026-10" not in fgts and "2026-11" in fgts
    r = api_client.patch(f"/api/empresas/{eid}", headers=office, json={"cnpj": "x"})
    assert r.status_code == 422, r.text  # cnpj is not editable: refused, never silently ignored
    r = api_client.patch(f"/api/empresas/{eid}", headers=office, json={"has_employees": False})
    assert r.status_code == 422, r.text  # a field name of the code, not of the API
