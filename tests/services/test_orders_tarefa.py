"""The tarefa of a client order (real database): created once by processing, with the SLA due
date on the office calendar; it follows the order (responsible, concluded, cancelled) and the
task board lists it, but does not complete or dispense it directly."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.errors import Conflict
from app.fiscal.calendar import BusinessCalendar
from app.obligations.tarefas import complete_tarefa, dispense_tarefa, get_tarefa, list_tarefas
from app.orders.office import assign_order, change_status
from app.orders.processing import process_order
from app.orders.service import Attachment, add_attachments, cancel_order, open_order
from app.orders.tarefa import order_tarefa
from app.storage import get_storage
from models import Empresa, Staff, Tarefa

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF"
CAL = BusinessCalendar()
# Friday 2026-06-05 (office time); certidão negativa: 3 business days → Wednesday 2026-06-10.
OPENED = datetime(2026, 6, 5, 15, 0, tzinfo=UTC)


@pytest.fixture
def emp(db):  # type: ignore[no-untyped-def]
    e = Empresa(cnpj="11222333000181", razao_social="Padaria Pão Quente", regime="SIMPLES",
                uf="SP", ibge_code="3550308")  # fmt: skip
    db.add(e)
    db.flush()
    ana = Staff(name="Ana Fiscal", email="ana@escritorio.exemplo", department="fiscal")
    bia = Staff(name="Bia Fiscal", email="bia@escritorio.exemplo", department="fiscal")
    db.add_all([ana, bia])
    db.flush()
    return {"id": e.id, "ana": ana.id, "bia": bia.id}


def _open_and_process(db, emp, kind: str = "certidao_negativa"):  # type: ignore[no-untyped-def]
    order = open_order(db, empresa_id=emp["id"], kind=kind, description="CND",
                       files=[Attachment("a.pdf", "application/pdf", PDF)], actor="cliente")  # fmt: skip
    order.created_at = OPENED
    db.flush()
    done = process_order(db, order_id=order.id, storage=get_storage(), calendar=CAL,
                         max_bytes=1024 * 1024)  # fmt: skip
    return order, done


def test_processing_creates_one_tarefa_with_the_sla_due_date(db, emp) -> None:  # type: ignore[no-untyped-def]
    order, done = _open_and_process(db, emp)
    tarefa = order_tarefa(db, order_id=order.id)
    assert tarefa is not None and done["tarefa_id"] == tarefa.id
    assert (tarefa.due_date, tarefa.target_date) == (date(2026, 6, 10), date(2026, 6, 10))
    assert tarefa.department == "fiscal" and tarefa.status == "aberta"
    assert tarefa.responsible_staff_id == order.assigned_staff_id == emp["ana"]
    assert tarefa.obligation_id is None and tarefa.competencia == "2026-06"
    assert tarefa.title == f"Pedido nº {order.id} — Certidão negativa de débitos"
    # processing again (new attachment) keeps the one tarefa
    add_attachments(db, order_id=order.id, actor="cliente",
                    files=[Attachment("b.pdf", "application/pdf", PDF + b"b")])  # fmt: skip
    again = process_order(db, order_id=order.id, storage=get_storage(), calendar=CAL,
                          max_bytes=1024 * 1024)  # fmt: skip
    assert "tarefa_id" not in again
    count = select(func.count()).select_from(Tarefa).where(Tarefa.order_id == order.id)
    assert db.scalar(count) == 1
    # the task board lists it (code "pedido", named by its title), filters apply
    total, views = list_tarefas(db, empresa_id=emp["id"], department="fiscal",
                                due_until=date(2026, 6, 10))  # fmt: skip
    assert total == 1 and views[0].tarefa.id == tarefa.id
    assert (views[0].obligation_code, views[0].obligation_name) == ("pedido", tarefa.title)
    assert get_tarefa(db, tarefa_id=tarefa.id).obligation_code == "pedido"


def test_the_tarefa_follows_the_order(db, emp) -> None:  # type: ignore[no-untyped-def]
    order, _ = _open_and_process(db, emp)
    tarefa = order_tarefa(db, order_id=order.id)
    assert tarefa is not None
    assign_order(db, order_id=order.id, staff_id=emp["bia"], actor="escritorio")
    assert tarefa.responsible_staff_id == emp["bia"]
    # the board does not close it by itself: the order's status does
    for action in (
        lambda: complete_tarefa(db, tarefa_id=tarefa.id, actor="escritorio"),
        lambda: dispense_tarefa(db, tarefa_id=tarefa.id, actor="escritorio", reason="não"),
    ):
        with pytest.raises(Conflict) as exc:
            action()
        assert exc.value.code == "transicao_invalida"
    change_status(db, order_id=order.id, status="em_andamento", actor="escritorio",
                  reply=None, results=())  # fmt: skip
    assert tarefa.status == "aberta"
    change_status(db, order_id=order.id, status="concluido", actor="token:2:escritorio",
                  reply="Segue a CND.", results=())  # fmt: skip
    assert tarefa.status == "concluida" and tarefa.completed_by == "token:2:escritorio"
    assert tarefa.completed_at == order.closed_at


def test_late_completion_counts_business_days_and_cancel_dispenses(db, emp) -> None:  # type: ignore[no-untyped-def]
    late, _ = _open_and_process(db, emp)
    cancelled, _ = _open_and_process(db, emp, kind="ferias")
    late_tarefa = order_tarefa(db, order_id=late.id)
    assert late_tarefa is not None
    late_tarefa.due_date = date(2020, 1, 2)  # Thursday; closing today is years late
    change_status(db, order_id=late.id, status="concluido", actor="escritorio",
                  reply=None, results=())  # fmt: skip
    assert late_tarefa.status == "concluida" and late_tarefa.late_business_days > 200
    cancel_order(db, order_id=cancelled.id, actor="cliente", reason="Desisti")
    tarefa = order_tarefa(db, order_id=cancelled.id)
    assert tarefa is not None
    assert (tarefa.status, tarefa.dispensed_reason) == ("dispensada", "Desisti")


def test_a_tarefa_has_an_obligation_or_an_order_never_both_or_none(db, emp) -> None:  # type: ignore[no-untyped-def]
    db.add(Tarefa(empresa_id=emp["id"], competencia="2026-06", due_date=date(2026, 6, 10),
                  target_date=date(2026, 6, 10), status="aberta", department="fiscal"))  # fmt: skip
    with pytest.raises(IntegrityError):
        db.flush()
