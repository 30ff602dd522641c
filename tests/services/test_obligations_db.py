"""Obligations in the database: versioned catalogue sync, automatic assignment, regime change."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from app.empresas.service import create_empresa, update_empresa
from app.errors import Conflict, InvalidInput
from app.fiscal.competencia import Competencia
from app.fiscal.obligations import load_catalogue
from app.obligations.catalogue import assign_empresa, reconcile_assignments, sync_catalogue
from app.obligations.custom import create_custom_obligation, set_company_obligation
from app.obligations.tarefas import generate_tarefas
from models import AuditLog, CompanyObligation, Empresa, Obligation, Tarefa

C = Competencia.parse


def _empresa(db, cnpj: str = "11222333000181", **kw) -> Empresa:  # type: ignore[no-untyped-def]
    fields = {"razao_social": "Padaria Pão Bom Ltda", "regime": "SIMPLES", "uf": "SP",
              "ibge_code": "3550308", **kw}  # fmt: skip
    emp = Empresa(cnpj=cnpj, **fields)
    db.add(emp)
    db.flush()
    return emp


def _codes(db, empresa_id: int, comp: str) -> set[str]:  # type: ignore[no-untyped-def]
    q = (
        select(Obligation.code)
        .join(CompanyObligation, CompanyObligation.obligation_id == Obligation.id)
        .where(
            CompanyObligation.empresa_id == empresa_id,
            CompanyObligation.valid_from <= comp,
            (CompanyObligation.valid_until.is_(None)) | (CompanyObligation.valid_until >= comp),
        )
    )
    return set(db.scalars(q))


def _task_codes(db, empresa_id: int, comp: str) -> set[str]:  # type: ignore[no-untyped-def]
    q = (
        select(Obligation.code)
        .join(Tarefa, Tarefa.obligation_id == Obligation.id)
        .where(Tarefa.empresa_id == empresa_id, Tarefa.competencia == comp)
    )
    return set(db.scalars(q))


def test_sync_is_idempotent_versioned_and_keeps_custom_obligations(db) -> None:  # type: ignore[no-untyped-def]
    cat = load_catalogue()
    first = sync_catalogue(db)
    assert first["inseridas"] == len(cat.obligations)
    custom_rule = cat.get("DAS").model_dump(mode="json") | {
        "code": "ALVARA",
        "name": "Renovação do alvará municipal",
        "periodicity": "annual",
        "competencia_month": 1,
        "due": {"kind": "fixed_date", "month": 3, "day": 31, "years_after": 0},
        "generates_guide": False,
        "guide_type": None,
        "legal_source": "Lei municipal (exemplo do escritório)",
    }
    custom_id = create_custom_obligation(db, rule=custom_rule, actor="ana")
    with pytest.raises(Conflict):
        create_custom_obligation(db, rule=custom_rule, actor="ana")
    with pytest.raises(InvalidInput, match="Características desconhecidas"):
        create_custom_obligation(
            db,
            rule=custom_rule
            | {"code": "X1", "applies_to": [{"regimes": ["MEI"], "all_of": ["y"]}]},
            actor="ana",
        )
    again = sync_catalogue(db)
    assert again["inalteradas"] == len(cat.obligations) and again["inseridas"] == 0
    # A new catalogue version changes one rule and drops one entry.
    das = cat.get("DAS").model_copy(update={"lead_time_business_days": 5})
    newer = cat.model_copy(
        update={
            "version": "2026.2",
            "obligation": tuple(
                das if o.code == "DAS" else o for o in cat.obligations if o.code != "ECF"
            ),
        }
    )
    out = sync_catalogue(db, catalogue=newer)
    assert out["atualizadas"] == len(cat.obligations) - 1 and out["desativadas"] == 1
    row = db.scalar(select(Obligation).where(Obligation.code == "DAS"))
    assert row.rule["lead_time_business_days"] == 5 and row.catalogue_version == "2026.2"
    assert db.scalar(select(Obligation.active).where(Obligation.code == "ECF")) is False
    custom = db.get(Obligation, custom_id)
    assert custom.custom and custom.active and custom.catalogue_version is None
    assert db.scalar(
        select(func.count()).select_from(AuditLog).where(AuditLog.action == "obrigacao.regra_atualizada")
    ) == 1  # fmt: skip


def test_assignment_follows_regime_and_characteristics(db) -> None:  # type: ignore[no-untyped-def]
    sync_catalogue(db)
    emp = _empresa(db, has_employees=True)
    result = assign_empresa(db, empresa_id=emp.id, effective=C("2026-01"), actor="t")
    assert set(result.opened) == {
        "DAS",
        "DEFIS",
        "INSS-IRRF",
        "INSS-13",
        "FGTS",
        "DCTFWEB",
        "DCTFWEB-13",
        "ESOCIAL",
    }
    assert _codes(db, emp.id, "2026-01") == set(result.opened)
    assert _codes(db, emp.id, "2025-12") == set()  # nothing before the start
    # Re-running the assignment changes nothing.
    again = assign_empresa(db, empresa_id=emp.id, effective=C("2026-01"), actor="t")
    assert again.opened == () and again.closed == ()


def test_regime_change_changes_future_tasks_never_past(db) -> None:  # type: ignore[no-untyped-def]
    sync_catalogue(db)
    emp = create_empresa(
        db,
        fields={"cnpj": "11.222.333/0001-81", "razao_social": "Padaria", "regime": "SIMPLES",
                "uf": "SP", "ibge_code": "3550308"},
        actor="ana",
        inicio=C("2026-04"),
    )  # fmt: skip
    generate_tarefas(db, empresa_ids=[emp.id], competencias=[C("2026-05"), C("2026-06")])
    assert _task_codes(db, emp.id, "2026-05") == {"DAS"}
    done = db.scalar(
        select(Tarefa).where(Tarefa.empresa_id == emp.id, Tarefa.competencia == "2026-04")
    )
    done.status = "concluida"
    db.flush()
    result = update_empresa(
        db,
        empresa_id=emp.id,
        changes={"regime": "presumido", "is_service_provider": True},
        actor="ana",
        vigencia=C("2026-06"),
        reason="Exclusão do Simples",
    )
    assert "DAS" in result["encerradas"] and "PIS-COFINS" in result["abertas"]
    # Past competências keep their DAS; 06/2026 (already generated) switched to the new regime.
    assert _task_codes(db, emp.id, "2026-04") == {"DAS"}
    assert _task_codes(db, emp.id, "2026-05") == {"DAS"}
    assert _task_codes(db, emp.id, "2026-06") == {
        "PIS-COFINS", "IRPJ-CSLL-TRIM", "DCTFWEB", "ISS", "EFD-CONTRIBUICOES",
    }  # fmt: skip
    assert _codes(db, emp.id, "2026-05") == {"DAS", "DEFIS"}
    generate_tarefas(db, empresa_ids=[emp.id], competencias=[C("2026-07")])
    assert "DAS" not in _task_codes(db, emp.id, "2026-07")
    audit = db.scalar(select(AuditLog).where(AuditLog.action == "empresa.alterada"))
    assert audit.reason == "Exclusão do Simples" and audit.details["antes"]["regime"] == "SIMPLES"
    # Back to Simples later: DAS restarts at the new vigência; the gap stays empty.
    update_empresa(db, empresa_id=emp.id, changes={"regime": "SIMPLES"}, actor="ana",
                   vigencia=C("2026-09"))  # fmt: skip
    generate_tarefas(
        db, empresa_ids=[emp.id], competencias=list(Competencia.range(C("2026-07"), C("2026-09")))
    )
    assert "DAS" not in _task_codes(db, emp.id, "2026-08")
    assert "DAS" in _task_codes(db, emp.id, "2026-09")


def test_create_empresa_validates_input(db) -> None:  # type: ignore[no-untyped-def]
    sync_catalogue(db)
    base = {"cnpj": "11222333000181", "razao_social": "X", "regime": "MEI", "uf": "SP",
            "ibge_code": "3550308"}  # fmt: skip
    with pytest.raises(InvalidInput, match="CNPJ"):
        create_empresa(db, fields=base | {"cnpj": "11222333000182"}, actor="t")
    with pytest.raises(InvalidInput, match="IBGE"):
        create_empresa(db, fields=base | {"uf": "RJ"}, actor="t")
    with pytest.raises(InvalidInput, match="Regime"):
        create_empresa(db, fields=base | {"regime": "ARBITRADO"}, actor="t")
    with pytest.raises(InvalidInput, match="Características"):
        create_empresa(db, fields=base | {"characteristics": {"voa": True}}, actor="t")
    create_empresa(db, fields=base, actor="t")
    with pytest.raises(Conflict):
        create_empresa(db, fields=base, actor="t")


def test_reconcile_attaches_missing_in_bulk_and_overrides_apply(db) -> None:  # type: ignore[no-untyped-def]
    sync_catalogue(db)
    a = _empresa(db)
    b = _empresa(db, cnpj="12ABC34501DE35", regime="PRESUMIDO", is_service_provider=True)
    assert reconcile_assignments(db, empresa_ids=[a.id, b.id], effective=C("2026-03")) == 8
    assert reconcile_assignments(db, empresa_ids=[a.id, b.id], effective=C("2026-03")) == 0
    set_company_obligation(db, empresa_id=b.id, code="ISS", overrides={"due_day": 5}, actor="ana")
    with pytest.raises(InvalidInput):
        set_company_obligation(
            db, empresa_id=b.id, code="DCTFWEB", overrides={"due_day": 5}, actor="x"
        )
    generate_tarefas(db, empresa_ids=[b.id], competencias=[C("2026-03")])
    iss = db.scalar(
        select(Tarefa).join(Obligation).where(Tarefa.empresa_id == b.id, Obligation.code == "ISS")
    )
    assert iss.due_date == date(2026, 4, 6)  # 05/04/2026 Sunday → postponed to Monday
    # An operator can switch an automatic obligation off for one empresa.
    set_company_obligation(db, empresa_id=a.id, code="DEFIS", active=False, actor="ana")
    generate_tarefas(db, empresa_ids=[a.id], competencias=[C("2026-12")])
    assert _task_codes(db, a.id, "2026-12") == {"DAS"}


def test_regime_change_cancels_the_guides_of_the_removed_tarefas(db) -> None:  # type: ignore[no-untyped-def]
    from app.guides import generation as guides
    from models import Guide

    sync_catalogue(db)
    emp = create_empresa(
        db,
        fields={"cnpj": "11.222.333/0001-81", "razao_social": "Padaria", "regime": "SIMPLES",
                "uf": "SP", "ibge_code": "3550308", "anexos": ["I"]},
        actor="ana",
        inicio=C("2026-04"),
    )  # fmt: skip
    generate_tarefas(db, empresa_ids=[emp.id], competencias=[C("2026-05"), C("2026-06")])
    guides.generate(db, competencia="2026-05", empresa_ids=[emp.id])
    guides.generate(db, competencia="2026-06", empresa_ids=[emp.id])
    by_comp = {str(g.competencia): g for g in db.scalars(select(Guide))}
    assert set(by_comp) == {"2026-05", "2026-06"}
    assert by_comp["2026-06"].status != "cancelada"
    previous = by_comp["2026-06"].status
    update_empresa(db, empresa_id=emp.id, changes={"regime": "presumido"}, actor="ana",
                   vigencia=C("2026-06"), reason="Exclusão do Simples")  # fmt: skip
    db.refresh(by_comp["2026-05"])
    db.refresh(by_comp["2026-06"])
    assert by_comp["2026-06"].status == "cancelada"  # its DAS tarefa was removed
    assert by_comp["2026-05"].status != "cancelada"  # before the vigência: kept
    audit = db.scalar(select(AuditLog).where(AuditLog.action == "guia.cancelada"))
    assert audit is not None and audit.actor == "ana" and "2026-06" in (audit.reason or "")
    assert audit.entity == "guia"
    # The change undone: the tarefa comes back, and so does its guide, as it was.
    before = by_comp["2026-06"].calculation
    update_empresa(db, empresa_id=emp.id, changes={"regime": "SIMPLES"}, actor="ana",
                   vigencia=C("2026-06"), reason="Exclusão lançada por engano")  # fmt: skip
    guides.generate(db, competencia="2026-06", empresa_ids=[emp.id])
    db.refresh(by_comp["2026-06"])
    assert by_comp["2026-06"].status == previous and by_comp["2026-06"].calculation == before
    reopened = db.scalar(select(AuditLog).where(AuditLog.action == "guia.reaberta"))
    assert reopened is not None and reopened.entity_id == str(by_comp["2026-06"].id)
