"""enviar-alertas rules: N business days ahead, once per threshold, holidays shift the count."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from app.obligations.alerts import queue_due_alerts, threshold_for
from models import (
    CompanyObligation,
    Contact,
    Empresa,
    Guide,
    Notification,
    Obligation,
    Staff,
    Tarefa,
)

# Tiradentes (21/04/2026, a Tuesday) is a national holiday (Lei 662/1949).
DUE = date(2026, 4, 23)  # Thursday


def seed(db, *, due: date = DUE, with_guide: bool = False, status: str = "aberta") -> Tarefa:  # type: ignore[no-untyped-def]
    staff = Staff(name="Ana Contadora", email="ana@escritorio.example.com.br")
    empresa = Empresa(
        cnpj="11222333000181", razao_social="Padaria Pão Bom Ltda", regime="SIMPLES",
        uf="SP", ibge_code="3550308",
    )  # fmt: skip
    ob = Obligation(
        code="DAS", name="DAS – Simples Nacional", department="fiscal", generates_guide=True,
        rule={"alert_business_days": [5, 2, 0], "calendar_scope": "national"},
    )  # fmt: skip
    db.add_all([staff, empresa, ob])
    db.flush()
    db.add(Contact(empresa_id=empresa.id, name="João Cliente", email="joao@padaria.example.com"))
    tarefa = Tarefa(
        empresa_id=empresa.id, obligation_id=ob.id, competencia="2026-03", due_date=due,
        target_date=due, status=status, department="fiscal", responsible_staff_id=staff.id,
    )  # fmt: skip
    db.add(tarefa)
    db.flush()
    if with_guide:
        db.add(
            Guide(
                empresa_id=empresa.id,
                obligation_id=ob.id,
                tarefa_id=tarefa.id,
                competencia="2026-03",
                kind="DAS",
                due_date=due,
                status="pronta",
            )  # fmt: skip
        )
        db.flush()
    return tarefa


def keys(db) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(db.scalars(select(Notification.idempotency_key)))


def test_threshold_is_the_smallest_reached() -> None:
    assert [threshold_for(n, (5, 2, 0)) for n in (7, 6, 5, 4, 3, 2, 1, 0, -1)] == [
        None, None, 5, 5, 5, 2, 2, 0, None,
    ]  # fmt: skip


def test_a_holiday_in_between_shifts_the_alert_day(db) -> None:  # type: ignore[no-untyped-def]
    tarefa = seed(db)
    # 14/04: 15,16,17,20,22,23 = 6 business days (21 is Tiradentes) -> too early.
    assert queue_due_alerts(db, today=date(2026, 4, 14))["mensagens"] == 0
    # 15/04: 16,17,20,22,23 = 5 business days (a weekday count would say 6).
    assert queue_due_alerts(db, today=date(2026, 4, 15))["mensagens"] == 2
    assert keys(db) == [
        f"alerta:tarefa:{tarefa.id}:5:email:ana@escritorio.example.com.br",
        f"alerta:tarefa:{tarefa.id}:5:email:joao@padaria.example.com",
    ]
    n = db.scalars(select(Notification).where(Notification.recipient.like("joao%"))).one()
    assert n.template == "alerta_tarefa"
    assert n.context["dias_uteis"] == 5 and n.context["vencimento"] == "2026-04-23"
    assert n.context["nome"] == "João Cliente" and n.context["tarefa"] == "DAS – Simples Nacional"


def test_once_per_threshold_and_missed_days_are_caught_up(db) -> None:  # type: ignore[no-untyped-def]
    tarefa = seed(db)
    for day in (15, 16, 16, 17):  # 5, 4, 4, 3 business days left: threshold 5 only, once
        queue_due_alerts(db, today=date(2026, 4, day))
    assert {k.split(":")[3] for k in keys(db)} == {"5"}
    queue_due_alerts(db, today=date(2026, 4, 22))  # 20/04 (n=2) was missed: caught up at n=1
    queue_due_alerts(db, today=date(2026, 4, 23))  # due today: threshold 0
    assert {k.split(":")[3] for k in keys(db)} == {"5", "2", "0"}
    assert len(keys(db)) == 6 and all(f":{tarefa.id}:" in k for k in keys(db))


def test_done_tarefas_get_no_alert(db) -> None:  # type: ignore[no-untyped-def]
    seed(db, status="concluida")
    assert queue_due_alerts(db, today=date(2026, 4, 23))["mensagens"] == 0


def test_guide_alert_goes_to_the_client_and_the_tarefa_alert_to_staff_only(db) -> None:  # type: ignore[no-untyped-def]
    tarefa = seed(db, with_guide=True)
    report = queue_due_alerts(db, today=date(2026, 4, 22))
    assert (report["tarefas"], report["guias"]) == (1, 1)
    guide_id = db.scalars(select(Guide.id)).one()
    assert keys(db) == [
        f"alerta:guia:{guide_id}:2:email:joao@padaria.example.com",
        f"alerta:tarefa:{tarefa.id}:2:email:ana@escritorio.example.com.br",
    ]
    guide_alert = db.scalars(select(Notification).where(Notification.recipient.like("joao%"))).one()
    assert guide_alert.context["tarefa"].startswith("Pagamento da guia DAS")


# --- one calendar: registered holidays, overrides, the office's working days -------------------

CAMPINAS = "3509502"  # a município the shipped table does not know: its holidays are registered
SANTOS = "3548500"


def seed_iss(db, ibge: str, cnpj: str, *, due: date = DUE) -> Tarefa:  # type: ignore[no-untyped-def]
    """An ISS tarefa (municipal calendar) of an empresa in ``ibge``, with one contact."""
    ob = db.scalar(select(Obligation).where(Obligation.code == "ISS"))
    if ob is None:
        ob = Obligation(
            code="ISS", name="ISS municipal", department="fiscal", generates_guide=False,
            rule={"alert_business_days": [5, 2, 0], "calendar_scope": "municipal"},
        )  # fmt: skip
        db.add(ob)
    empresa = Empresa(
        cnpj=cnpj, razao_social=f"Serviços {ibge} Ltda", regime="PRESUMIDO", uf="SP",
        ibge_code=ibge,
    )  # fmt: skip
    db.add(empresa)
    db.flush()
    db.add(Contact(empresa_id=empresa.id, name="Cliente", email=f"c{ibge}@cliente.example.com"))
    tarefa = Tarefa(
        empresa_id=empresa.id, obligation_id=ob.id, competencia="2026-03", due_date=due,
        target_date=due, status="aberta", department="fiscal",
    )  # fmt: skip
    db.add(tarefa)
    db.flush()
    return tarefa


def test_alert_in_a_municipio_with_a_registered_holiday_fires_on_its_next_business_day(db) -> None:  # type: ignore[no-untyped-def]
    from app.obligations.holidays import add_holiday

    # 17/04/2026 (Friday) is a municipal holiday of Campinas, registered by an operator.
    add_holiday(
        db, day=date(2026, 4, 17), name="Feriado municipal", ibge_code=CAMPINAS, actor="ana"
    )
    campinas = seed_iss(db, CAMPINAS, "11444777000161")
    santos = seed_iss(db, SANTOS, "11222333000181")
    # Both tarefas appear on 17/04 (e.g. registered that day). Santos works: its alert goes out
    # (16... 20, 22, 23 = 3 business days: threshold 5). Campinas is closed: nothing for it.
    report = queue_due_alerts(db, today=date(2026, 4, 17))
    assert keys(db) == [f"alerta:tarefa:{santos.id}:5:email:c{SANTOS}@cliente.example.com"]
    assert report["adiados"] == 1
    # Next business day in Campinas (20/04): 22 and 23 left (21 is Tiradentes) = threshold 2.
    queue_due_alerts(db, today=date(2026, 4, 20))
    sent = db.scalars(
        select(Notification).where(
            Notification.idempotency_key.like(f"alerta:tarefa:{campinas.id}:%")
        )
    ).all()
    assert [n.idempotency_key.split(":")[3] for n in sent] == ["2"]
    assert sent[0].context["dias_uteis"] == 2


def test_a_registered_holiday_in_between_is_counted_on_the_municipio_calendar(db) -> None:  # type: ignore[no-untyped-def]
    from app.obligations.holidays import add_holiday

    add_holiday(db, day=date(2026, 4, 22), name="Feriado municipal", ibge_code=CAMPINAS, actor="t")
    campinas = seed_iss(db, CAMPINAS, "11444777000161")
    # 14/04: 15, 16, 17, 20, 23 = 5 business days in Campinas (21 national, 22 municipal).
    queue_due_alerts(db, today=date(2026, 4, 14))
    assert keys(db) == [f"alerta:tarefa:{campinas.id}:5:email:c{CAMPINAS}@cliente.example.com"]


def test_the_empresa_override_of_thresholds_is_used(db) -> None:  # type: ignore[no-untyped-def]
    tarefa = seed(db)
    db.add(
        CompanyObligation(
            empresa_id=tarefa.empresa_id, obligation_id=tarefa.obligation_id, source="manual",
            overrides={"alert_business_days": [3, 0]}, valid_from="2026-01", active=True,
        )
    )  # fmt: skip
    db.flush()
    # 15/04: 5 business days left — the catalogue's 5 would alert, this empresa asked for 3.
    assert queue_due_alerts(db, today=date(2026, 4, 15))["mensagens"] == 0
    queue_due_alerts(db, today=date(2026, 4, 17))  # 20, 22, 23 = 3
    assert {k.split(":")[3] for k in keys(db)} == {"3"}


def test_a_registered_national_closure_is_not_an_office_business_day(db) -> None:  # type: ignore[no-untyped-def]
    from app.obligations.calendar import is_business_day
    from app.obligations.holidays import add_holiday

    day = date(2026, 4, 16)
    assert is_business_day(db, day)
    add_holiday(db, day=day, name="Sem expediente bancário", actor="ana")
    assert not is_business_day(db, day)
    tarefa = seed(db)
    # 15/04: 17, 20, 22, 23 = 4 business days now (16 closed nationally): threshold 5.
    queue_due_alerts(db, today=date(2026, 4, 15))
    assert {k.split(":")[3] for k in keys(db)} == {"5"} and str(tarefa.id) in keys(db)[0]


@pytest.mark.usefixtures("clean_db")
def test_every_daily_job_asks_the_same_business_day_question() -> None:
    """enviar-alertas, validar-tarefas-a-vencer and verificar-documentos-pendentes share the task."""
    from app.db import session_scope
    from app.obligations.holidays import add_holiday
    from tasks.obligations import is_business_day_task

    with session_scope() as s:
        add_holiday(s, day=date(2026, 4, 16), name="Sem expediente bancário", actor="ana")
    assert is_business_day_task.fn("2026-04-15") is True
    assert is_business_day_task.fn("2026-04-16") is False  # registered closure
    assert is_business_day_task.fn("2026-04-21") is False  # Tiradentes


def test_legal_date_on_a_non_business_day_counts_back_from_the_effective_date(db) -> None:  # type: ignore[no-untyped-def]
    # DEFIS of 2028 is due on Saturday 31/03/2029 (Res. CGSN 140/2018 art. 72: the date is
    # kept); 30/03/2029 is Good Friday, so the effective date is Thursday 29/03/2029. The
    # internal target (10 business days) and the 10-business-day alert are the same day.
    from app.fiscal.calendar import get_calendar
    from app.fiscal.obligations import effective_due_date, internal_target_date, load_catalogue

    defis = load_catalogue().get("DEFIS")
    legal = date(2029, 3, 31)
    national = get_calendar()
    target = internal_target_date(defis, legal, national)
    assert effective_due_date(legal, national) == date(2029, 3, 29)
    assert target == date(2029, 3, 15)
    tarefa = seed(db, due=legal)
    ob = db.get(Obligation, tarefa.obligation_id)
    ob.rule = {"alert_business_days": [10, 5, 2, 0], "calendar_scope": "national"}
    tarefa.target_date = target
    db.flush()
    assert queue_due_alerts(db, today=date(2029, 3, 14))["mensagens"] == 0
    assert queue_due_alerts(db, today=target)["mensagens"] == 2
    assert {k.split(":")[3] for k in keys(db)} == {"10"}
    queue_due_alerts(db, today=date(2029, 3, 29))  # the effective date: "vence hoje"
    assert {k.split(":")[3] for k in keys(db)} == {"10", "0"}
    last = db.scalars(
        select(Notification).where(Notification.idempotency_key.like("%:0:email:joao%"))
    ).one()
    assert last.context["dias_uteis"] == 0 and last.context["vencimento_efetivo"] == "2029-03-29"
