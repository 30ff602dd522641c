"""Tarefas through the database: pinned 2026 dates, idempotent generation, statuses, alerts."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from app.errors import Conflict, InvalidInput
from app.fiscal.competencia import Competencia
from app.obligations.calendar import add_holiday
from app.obligations.catalogue import reconcile_assignments, sync_catalogue
from app.obligations.tarefas import (
    complete_tarefa,
    dispense_tarefa,
    generate_tarefas,
    list_tarefas,
    refresh_statuses,
)
from models import AuditLog, Empresa, Notification, Obligation, Staff, Tarefa

C = Competencia.parse
YEAR = list(Competencia.range(C("2025-12"), C("2026-12")))

# (obligation, competência, legal due date, internal target date) — generated through the DB.
PINNED = [
    ("DAS", "2026-05", date(2026, 6, 22), date(2026, 6, 17)),  # 20/06 Saturday → postponed
    ("DAS", "2026-10", date(2026, 11, 23), date(2026, 11, 17)),  # 20/11 national holiday
    ("DAS-MEI", "2026-08", date(2026, 9, 21), date(2026, 9, 16)),  # 20/09 Sunday
    ("INSS-IRRF", "2026-05", date(2026, 6, 19), date(2026, 6, 16)),  # anticipated
    ("INSS-13", "2026-12", date(2026, 12, 18), date(2026, 12, 15)),  # 20/12 Sunday → 18/12
    ("FGTS", "2026-10", date(2026, 11, 19), date(2026, 11, 16)),
    ("PIS-COFINS", "2026-11", date(2026, 12, 24), date(2026, 12, 21)),  # 25/12 → 24/12
    ("IRPJ-CSLL-TRIM", "2026-09", date(2026, 10, 30), date(2026, 10, 23)),
    ("IRPJ-CSLL-EST", "2026-11", date(2026, 12, 30), date(2026, 12, 22)),  # 31/12 closed
    ("DCTFWEB", "2026-01", date(2026, 2, 27), date(2026, 2, 24)),
    ("DCTFWEB", "2026-11", date(2026, 12, 30), date(2026, 12, 24)),  # 31/12 closed
    ("ESOCIAL", "2026-01", date(2026, 2, 18), date(2026, 2, 12)),  # Carnaval 16–17/02
    ("ESOCIAL-MEI", "2026-01", date(2026, 2, 6), date(2026, 2, 4)),  # 07/02 Saturday
    ("EFD-REINF", "2026-01", date(2026, 2, 18), date(2026, 2, 12)),  # Carnaval
    ("DEFIS", "2025-12", date(2026, 3, 31), date(2026, 3, 17)),
    # Sunday kept; the target counts back from the effective date (Friday 29/05)
    ("DASN-SIMEI", "2025-12", date(2026, 5, 31), date(2026, 5, 15)),
    ("ECD", "2025-12", date(2026, 6, 30), date(2026, 6, 9)),  # 15 business days
    ("ECF", "2025-12", date(2026, 7, 31), date(2026, 7, 10)),
    ("ISS", "2026-09", date(2026, 10, 14), date(2026, 10, 7)),  # 10/10 Sat, 12/10, 13/10 (DB)
    ("ISS", "2026-03", date(2026, 4, 13), date(2026, 4, 7)),  # 10/04: SP state holiday (DB)
    ("DAS", "2026-03", date(2026, 4, 20), date(2026, 4, 15)),  # federal: DB SP holiday ignored
    ("EFD-CONTRIBUICOES", "2026-01", date(2026, 3, 13), date(2026, 3, 10)),  # 10th business day
    ("IRPJ-CSLL-AJUSTE", "2025-12", date(2026, 3, 31), date(2026, 3, 24)),
    ("DCTFWEB-13", "2026-12", date(2026, 12, 18), date(2026, 12, 15)),  # 20/12 Sunday → 18/12
]


def _empresa(db, cnpj: str, regime: str, **kw) -> Empresa:  # type: ignore[no-untyped-def]
    emp = Empresa(cnpj=cnpj, razao_social=f"Empresa {cnpj}", regime=regime, uf="SP",
                  ibge_code="3550308", **kw)  # fmt: skip
    db.add(emp)
    db.flush()
    return emp


@pytest.fixture
def world(db):  # type: ignore[no-untyped-def]
    """Four empresas that together have every catalogue obligation, in São Paulo city."""
    sync_catalogue(db)
    staff = Staff(name="Ana", email="ana@escritorio.exemplo", department="fiscal")
    admin = Staff(name="Chefe", email="chefe@escritorio.exemplo", is_admin=True)
    db.add_all([staff, admin])
    db.flush()
    emps = [
        _empresa(db, "11111111000191", "MEI", has_employees=True),
        _empresa(db, "22222222000191", "SIMPLES", has_employees=True, has_withholdings=True,
                 responsible_staff_id=staff.id),
        _empresa(db, "33333333000191", "PRESUMIDO", is_service_provider=True,
                 characteristics={"keeps_ecd": True}, responsibles={"fiscal": staff.id}),
        _empresa(db, "44444444000191", "REAL", characteristics={"lucro_real_anual": True}),
    ]  # fmt: skip
    ids = [e.id for e in emps]
    reconcile_assignments(db, empresa_ids=ids, effective=C("2025-01"))
    add_holiday(
        db, day=date(2026, 10, 13), name="Feriado municipal", ibge_code="3550308", actor="t"
    )
    add_holiday(db, day=date(2026, 4, 10), name="Feriado estadual", uf="SP", actor="t")
    add_holiday(db, day=date(2026, 4, 20), name="Feriado estadual 2", uf="SP", actor="t")
    return {"ids": ids, "staff": staff.id, "admin": admin.id}


def _tarefa(db, code: str, comp: str) -> Tarefa:  # type: ignore[no-untyped-def]
    return db.scalar(
        select(Tarefa).join(Obligation).where(Obligation.code == code, Tarefa.competencia == comp)
    )


def test_generated_tarefas_carry_pinned_dates(db, world) -> None:  # type: ignore[no-untyped-def]
    generate_tarefas(db, empresa_ids=world["ids"], competencias=YEAR)
    for code, comp, due, target in PINNED:
        t = _tarefa(db, code, comp)
        assert (code, comp, t.due_date, t.target_date) == (code, comp, due, target)
    # every catalogue entry is generated somewhere in the year
    codes = set(db.scalars(select(Obligation.code).join(Tarefa).distinct()))
    assert codes == set(db.scalars(select(Obligation.code)))
    assert {code for code, *_ in PINNED} == codes


def test_generation_is_idempotent_and_sets_responsible(db, world) -> None:  # type: ignore[no-untyped-def]
    first = generate_tarefas(db, empresa_ids=world["ids"], competencias=YEAR)
    count = db.scalar(select(func.count()).select_from(Tarefa))
    assert first == count > 0
    assert generate_tarefas(db, empresa_ids=world["ids"], competencias=YEAR) == 0
    assert db.scalar(select(func.count()).select_from(Tarefa)) == count
    # quarterly only at quarter ends, annual only in December
    trim = db.scalars(
        select(Tarefa.competencia).join(Obligation).where(Obligation.code == "IRPJ-CSLL-TRIM")
    )
    assert sorted(trim) == ["2025-12", "2026-03", "2026-06", "2026-09", "2026-12"]
    das = _tarefa(db, "DAS", "2026-05")
    assert das.responsible_staff_id == world["staff"] and das.department == "fiscal"
    pis = _tarefa(db, "PIS-COFINS", "2026-05")
    assert pis.responsible_staff_id == world["staff"]  # per-department responsible
    assert _tarefa(db, "ECF", "2025-12").responsible_staff_id is None


def _notes(db) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(db.scalars(select(Notification.idempotency_key)))


def test_status_moves_by_business_days_and_alerts_once(db, world) -> None:  # type: ignore[no-untyped-def]
    generate_tarefas(db, empresa_ids=world["ids"], competencias=[C("2026-05")])
    das = _tarefa(db, "DAS", "2026-05")  # due 22/06/2026, alerts 5 business days before
    refresh_statuses(db, today=date(2026, 6, 12))  # 6 business days before
    db.refresh(das)
    assert das.status == "aberta"
    out = refresh_statuses(db, today=date(2026, 6, 15))  # 5 business days before
    db.refresh(das)
    assert das.status == "a_vencer" and out["alertas"] >= 1
    key = f"tarefa:{das.id}:status:a_vencer:email:ana@escritorio.exemplo"
    assert key in _notes(db)
    before = _notes(db)
    again = refresh_statuses(db, today=date(2026, 6, 15))
    assert _notes(db) == before and again["alertas"] == again["atualizadas"] == 0
    refresh_statuses(db, today=date(2026, 6, 16))
    assert [k for k in _notes(db) if k.startswith(f"tarefa:{das.id}:")] == [key]
    refresh_statuses(db, today=date(2026, 6, 24))  # 2 business days late
    db.refresh(das)
    assert (das.status, das.late_business_days, das.fine_risk) == ("vencida", 2, True)
    assert f"tarefa:{das.id}:status:vencida:email:ana@escritorio.exemplo" in _notes(db)
    refresh_statuses(db, today=date(2026, 6, 26))
    db.refresh(das)
    assert das.late_business_days == 4
    # a tarefa without a responsible alerts the office admins
    ecf_like = db.scalar(
        select(Tarefa)
        .join(Obligation)
        .where(Obligation.code == "DCTFWEB", Tarefa.empresa_id == world["ids"][1])
    )
    assert ecf_like.status == "a_vencer"
    ecf_like.responsible_staff_id = None
    db.flush()
    refresh_statuses(db, today=date(2026, 7, 1))
    assert f"tarefa:{ecf_like.id}:status:vencida:email:chefe@escritorio.exemplo" in _notes(db)


def test_complete_records_who_when_and_lateness(db, world) -> None:  # type: ignore[no-untyped-def]
    generate_tarefas(db, empresa_ids=world["ids"], competencias=[C("2026-05")])
    das = _tarefa(db, "DAS", "2026-05")
    at = datetime(2026, 6, 24, 15, 0, tzinfo=UTC)
    complete_tarefa(db, tarefa_id=das.id, actor="token:1:ana", now=at)
    assert (das.status, das.completed_by, das.completed_at) == ("concluida", "token:1:ana", at)
    assert das.late_business_days == 2 and das.fine_risk
    with pytest.raises(Conflict):
        complete_tarefa(db, tarefa_id=das.id, actor="x")
    on_time = _tarefa(db, "FGTS", "2026-05")
    complete_tarefa(db, tarefa_id=on_time.id, actor="x", now=datetime(2026, 6, 1, tzinfo=UTC))
    assert on_time.late_business_days == 0 and not on_time.fine_risk
    # completed tarefas are left alone by the daily check
    refresh_statuses(db, today=date(2026, 7, 30))
    db.refresh(das)
    assert das.status == "concluida"


def test_dispense_needs_a_reason_and_is_audited(db, world) -> None:  # type: ignore[no-untyped-def]
    generate_tarefas(db, empresa_ids=world["ids"], competencias=[C("2026-05")])
    t = _tarefa(db, "EFD-REINF", "2026-05")
    with pytest.raises(InvalidInput):
        dispense_tarefa(db, tarefa_id=t.id, actor="ana", reason=" ")
    dispense_tarefa(db, tarefa_id=t.id, actor="ana", reason="Sem retenções no mês")
    assert t.status == "dispensada" and t.dispensed_reason == "Sem retenções no mês"
    audit = db.scalar(select(AuditLog).where(AuditLog.action == "tarefa.dispensada"))
    assert audit.reason == "Sem retenções no mês" and audit.entity_id == str(t.id)
    with pytest.raises(Conflict):
        complete_tarefa(db, tarefa_id=t.id, actor="ana")


def test_list_filters(db, world) -> None:  # type: ignore[no-untyped-def]
    generate_tarefas(db, empresa_ids=world["ids"], competencias=[C("2026-05")])
    total, rows = list_tarefas(db, department="pessoal")
    assert total == len(rows) > 0 and {r.tarefa.department for r in rows} == {"pessoal"}
    total, rows = list_tarefas(db, due_from=date(2026, 6, 22), due_until=date(2026, 6, 22))
    assert {r.obligation_code for r in rows} == {"DAS", "DAS-MEI"}
    total, rows = list_tarefas(db, responsible_staff_id=world["staff"], empresa_id=world["ids"][1])
    assert total and all(r.tarefa.empresa_id == world["ids"][1] for r in rows)
    assert list_tarefas(db, status=["vencida"])[0] == 0
    dates = [r.tarefa.due_date for r in list_tarefas(db)[1]]
    assert dates == sorted(dates)
