"""SLA alerts of client orders in ``enviar-alertas`` (real database, outbox drained into an SMTP
sink): near the due date and once past it, once per order per stage, to the responsible or the
admins; never for a concluded or cancelled order; the order's tarefa follows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from app.db import session_scope
from app.fiscal.calendar import BusinessCalendar
from app.notifications.delivery import Senders, deliver_batch
from app.notify.email import EmailChannel
from app.obligations.alerts import queue_due_alerts
from app.orders.office import change_status
from app.orders.processing import process_order
from app.orders.service import open_order
from app.orders.tarefa import order_tarefa
from app.storage import get_storage
from models import Empresa, Notification, Staff
from tests.support.smtp_sink import SmtpSink

# Friday 2026-06-05: certidão negativa (SLA 3, alert 1) is due Wed 06-10; férias (SLA 5,
# department pessoal: nobody there, so the admins) is due Fri 06-12.
OPENED = datetime(2026, 6, 5, 15, 0, tzinfo=UTC)
ANA, CHEFE = "ana@escritorio.exemplo", "chefe@escritorio.exemplo"


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as s:
        yield s


def _orders() -> dict[str, int]:
    ids: dict[str, int] = {}
    with session_scope() as s:
        e = Empresa(cnpj="11222333000181", razao_social="Padaria Pão Quente", regime="SIMPLES",
                    uf="SP", ibge_code="3550308")  # fmt: skip
        s.add(e)
        s.add(Staff(name="Ana Fiscal", email=ANA, department="fiscal"))
        s.add(Staff(name="Chefe", email=CHEFE, department="contabil", is_admin=True))
        s.flush()
        for name, kind in (("cnd", "certidao_negativa"), ("ferias", "ferias"),
                           ("pronto", "certidao_negativa")):  # fmt: skip
            order = open_order(s, empresa_id=e.id, kind=kind, description=name, files=[],
                               actor="cliente")  # fmt: skip
            order.created_at = OPENED
            ids[name] = order.id
    for oid in ids.values():
        with session_scope() as s:
            process_order(s, order_id=oid, storage=get_storage(), calendar=BusinessCalendar(),
                          max_bytes=1024)  # fmt: skip
    with session_scope() as s:
        change_status(s, order_id=ids["pronto"], status="concluido", actor="escritorio",
                      reply=None, results=())  # fmt: skip
    return ids


def _alerts(day: date) -> dict[str, int]:
    with session_scope() as s:
        return queue_due_alerts(s, today=day)


def _keys() -> list[str]:
    with session_scope() as s:
        q = select(Notification.idempotency_key).where(Notification.template == "pedido_prazo")
        return sorted(s.scalars(q))


def _tarefa(order_id: int) -> tuple[str, int]:
    with session_scope() as s:
        t = order_tarefa(s, order_id=order_id)
        assert t is not None
        return t.status, t.late_business_days


def test_near_and_past_the_sla_alert_once_per_stage(
    clean_db: None, sink: SmtpSink, redis_client
) -> None:  # type: ignore[no-untyped-def]
    ids = _orders()
    cnd, ferias = ids["cnd"], ids["ferias"]
    assert _alerts(date(2026, 6, 8))["pedidos"] == 0  # two business days left: too early
    assert _keys() == []
    assert _alerts(date(2026, 6, 9))["pedidos"] == 1  # one business day left
    assert _keys() == [f"alerta:pedido:{cnd}:a_vencer:email:{ANA}"]
    assert _tarefa(cnd) == ("a_vencer", 0)
    _alerts(date(2026, 6, 9))  # re-run, and the due day itself: still the same stage
    _alerts(date(2026, 6, 10))
    assert len(_keys()) == 1
    _alerts(date(2026, 6, 11))  # past due; férias is one business day from its due date
    assert _keys() == sorted([
        f"alerta:pedido:{cnd}:a_vencer:email:{ANA}",
        f"alerta:pedido:{cnd}:vencido:email:{ANA}",
        f"alerta:pedido:{ferias}:a_vencer:email:{CHEFE}",
    ])  # fmt: skip
    assert _tarefa(cnd) == ("vencida", 1)
    _alerts(date(2026, 6, 15))  # later days: no new message, the lateness grows
    assert len(_keys()) == 4 and _tarefa(cnd) == ("vencida", 3)  # férias past due too
    assert _tarefa(ids["pronto"])[0] == "concluida"
    assert not [k for k in _keys() if f":{ids['pronto']}:" in k]

    senders = Senders(
        redis=redis_client, email=EmailChannel(sink.smtp_config()), storage=get_storage()
    )
    deliver_batch(transaction=session_scope, senders=senders, limit=100)
    subjects = sorted(m.subject for m in sink.to(ANA) if "prazo" in m.subject.lower())
    assert subjects == [
        f"Pedido nº {cnd} com prazo vencido – Padaria Pão Quente",
        f"Prazo do pedido nº {cnd} em 1 dia útil – Padaria Pão Quente",
    ]
    to_admin = [m for m in sink.to(CHEFE) if "prazo" in m.subject.lower()]
    assert len(to_admin) == 2  # férias: near, then past
    assert "Férias" in to_admin[0].text and "12/06/2026" in to_admin[0].text


def test_no_alert_on_a_day_the_office_is_closed(clean_db: None) -> None:
    _orders()
    assert _alerts(date(2026, 6, 13))["pedidos"] == 0  # Saturday
    assert _keys() == []
