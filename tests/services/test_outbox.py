"""The outbox: idempotent by key, recipients from contacts' preferences, audited re-queue."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.errors import Conflict
from app.notifications.outbox import (
    Recipient,
    empresa_recipients,
    enqueue,
    requeue,
    staff_recipients,
)
from models import AuditLog, Contact, Empresa, Notification, Staff


def empresa(db) -> int:  # type: ignore[no-untyped-def]
    e = Empresa(
        cnpj="11222333000181", razao_social="Padaria", regime="MEI", uf="SP", ibge_code="3550308"
    )
    db.add(e)
    db.flush()
    return e.id


def test_same_key_never_queues_a_second_message(db) -> None:  # type: ignore[no-untyped-def]
    to = [Recipient("email", "a@example.com", "Ana"), Recipient("whatsapp", "11987654321", "Ana")]
    ctx = {"vencimento": date(2026, 6, 22), "valor": Decimal("10.50")}
    assert enqueue(db, key="guia:1", recipients=to, template="guia_disponivel", context=ctx) == 2
    assert enqueue(db, key="guia:1", recipients=to, template="guia_disponivel", context=ctx) == 0
    rows = db.scalars(select(Notification).order_by(Notification.id)).all()
    assert [r.idempotency_key for r in rows] == [
        "guia:1:email:a@example.com",
        "guia:1:whatsapp:11987654321",
    ]
    assert rows[0].context == {
        "nome": "Ana", "vencimento": "2026-06-22", "valor": "10.50", "destinatario": "Ana",
    }  # fmt: skip


def test_recipients_follow_preferences_and_opt_outs(db) -> None:  # type: ignore[no-untyped-def]
    eid = empresa(db)
    db.add_all(
        [
            Contact(empresa_id=eid, name="A", email="a@x.com", phone="11987654321",
                    preferences={"guia_disponivel": ["email", "whatsapp"]}),
            Contact(empresa_id=eid, name="B", email="b@x.com", opt_out_email=True),
            Contact(empresa_id=eid, name="C", email="c@x.com", active=False),
        ]
    )  # fmt: skip
    db.flush()
    got = empresa_recipients(db, eid, "guia_disponivel")
    assert got == [Recipient("email", "a@x.com", "A"), Recipient("whatsapp", "11987654321", "A")]
    assert empresa_recipients(db, eid, "alerta_tarefa") == [Recipient("email", "a@x.com", "A")]
    s = Staff(name="Ana", email="ana@escritorio.com")
    db.add(s)
    db.flush()
    assert staff_recipients(db, [s.id, None]) == [Recipient("email", "ana@escritorio.com", "Ana")]


def test_only_failed_notifications_are_requeued_and_it_is_audited(db) -> None:  # type: ignore[no-untyped-def]
    enqueue(db, key="k", recipients=[Recipient("email", "a@x.com")], template="t", context={})
    n = db.scalars(select(Notification)).one()
    with pytest.raises(Conflict):
        requeue(db, notification_id=n.id, actor="op")
    n.status, n.attempts, n.last_error_code = "falhou", 3, "falha_temporaria"
    db.flush()
    requeue(db, notification_id=n.id, actor="token:1:equipe", reason="SMTP voltou")
    assert (n.status, n.attempts, n.last_error_code) == ("pendente", 0, None)
    audit = db.scalars(select(AuditLog)).one()
    assert (audit.action, audit.actor, audit.reason) == (
        "notificacao.reenfileirada", "token:1:equipe", "SMTP voltou",
    )  # fmt: skip
    assert audit.details["tentativas"] == 3
