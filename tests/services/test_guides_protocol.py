"""Delivery protocol: queued once, tracked link views (IP, user agent), re-send, paid."""

from __future__ import annotations

from decimal import Decimal as D
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import Conflict, PermissionDenied
from app.files.store import store_file
from app.guides import generation as guides
from app.guides import protocol
from app.notifications import outbox
from app.settings import get_settings
from app.storage import get_storage
from app.storage.signing import sign
from models import AuditLog, Contact, Guide, GuideEvent, Notification, StoredFile
from tests.services.test_guides import COMP, empresa, history, tarefa


def _ready_guide(db: Session, cnpj: str = "11222333000181") -> Guide:
    e = empresa(db, cnpj, ["I"])
    tarefa(db, e)
    history(db, e, D("250000.00"), "I", D("10000.00"))
    db.add(
        Contact(
            empresa_id=e.id,
            name="Maria Cliente",
            email=f"maria-{cnpj}@cliente.test",
            phone="5511999990000",
            preferences={"guia_disponivel": ["email", "whatsapp"]},
        )
    )
    guides.generate(db, competencia=COMP, empresa_ids=[e.id])
    g = db.scalar(select(Guide).where(Guide.empresa_id == e.id))
    assert g is not None and g.status == "pronta"
    return g


def _token(n: Notification) -> str:
    return urlsplit(n.context["link"]).path.rsplit("/", 1)[-1]


def _events(db: Session, g: Guide, kind: str) -> list[GuideEvent]:
    q = select(GuideEvent).where(GuideEvent.guide_id == g.id, GuideEvent.kind == kind)
    return list(db.scalars(q.order_by(GuideEvent.id)))


def test_send_queues_email_with_pdf_and_whatsapp_with_tracked_link_once(db: Session) -> None:
    g = _ready_guide(db)
    out = protocol.send(db, guide_ids=[g.id])
    assert out == {"enviadas": 1, "mensagens": 2, "sem_destinatario": 0}
    assert g.status == "enviada"
    rows = {
        n.channel: n
        for n in db.scalars(select(Notification).where(Notification.template == "guia_disponivel"))
    }
    assert set(rows) == {"email", "whatsapp"}
    pdf = db.get(StoredFile, g.pdf_file_id)
    assert pdf is not None and get_storage().get(pdf.storage_key).startswith(b"%PDF-")
    assert rows["email"].attachments == [g.pdf_file_id] and rows["whatsapp"].attachments == []
    ctx = rows["email"].context
    assert (ctx["valor"], ctx["vencimento"], ctx["nome"]) == (
        "492.40",
        "2026-06-22",
        "Maria Cliente",
    )
    assert "/api/guias/abrir/" in rows["whatsapp"].context["link"]
    assert len(_events(db, g, "enfileirada")) == 2

    assert protocol.send(db, guide_ids=[g.id])["enviadas"] == 0  # already sent: nothing
    assert len(list(db.scalars(select(Notification.id)))) == 2


def test_every_view_is_recorded_with_ip_and_user_agent(db: Session) -> None:
    g = _ready_guide(db)
    protocol.send(db, guide_ids=[g.id])
    n = db.scalar(select(Notification).where(Notification.channel == "whatsapp"))
    assert n is not None
    key, filename = protocol.record_view(db, token=_token(n), ip="203.0.113.9", user_agent="UA/1")
    assert key.startswith("guide/") and filename.endswith(".pdf")
    protocol.record_view(db, token=_token(n), ip="198.51.100.7", user_agent="UA/2")
    views = _events(db, g, "visualizada")
    assert [(v.ip, v.user_agent, v.details["primeira"]) for v in views] == [
        ("203.0.113.9", "UA/1", True),
        ("198.51.100.7", "UA/2", False),
    ]
    assert views[0].notification_id == n.id and g.status == "visualizada"


def test_tampered_or_expired_link_is_refused_and_nothing_recorded(db: Session) -> None:
    g = _ready_guide(db)
    protocol.send(db, guide_ids=[g.id])
    n = db.scalar(select(Notification).where(Notification.channel == "email"))
    assert n is not None
    token = _token(n)
    payload, mac = token.split(".")
    with pytest.raises(PermissionDenied) as bad:
        protocol.record_view(db, token=payload[:-2] + "xx." + mac, ip="1.2.3.4", user_agent="x")
    assert bad.value.code == "link_invalido"
    secret = get_settings().APP_KEY.get_secret_value()
    expired = sign(secret, f"guia:{g.id}", expires_in=-1, extra={"g": g.id, "m": "x"})
    with pytest.raises(PermissionDenied) as old:
        protocol.record_view(db, token=expired, ip="1.2.3.4", user_agent="x")
    assert old.value.code == "link_expirado"
    assert _events(db, g, "visualizada") == [] and g.status == "enviada"


def test_resend_is_explicit_counted_and_audited(db: Session) -> None:
    g = _ready_guide(db)
    with pytest.raises(Conflict):
        protocol.resend(db, guide_id=g.id, actor="op")  # never sent yet: use enviar-guias
    g.status = "pronta"
    protocol.send(db, guide_ids=[g.id])
    assert protocol.resend(db, guide_id=g.id, actor="op", reason="cliente pediu") == 2
    assert protocol.resend(db, guide_id=g.id, actor="op") == 2
    keys = sorted(db.scalars(select(Notification.idempotency_key)))
    assert [k.split(":")[3] for k in keys] == ["0", "0", "1", "1", "2", "2"]
    resent = _events(db, g, "reenviada")
    assert [e.details["reenvio"] for e in resent] == [1, 2] and resent[0].actor == "op"
    audits = db.scalars(select(AuditLog.reason).where(AuditLog.action == "guia.reenviada"))
    assert list(audits) == ["cliente pediu", None]


def test_paid_by_client_with_receipt_and_provider_status_moves_the_guide(db: Session) -> None:
    g = _ready_guide(db)
    protocol.send(db, guide_ids=[g.id])
    n = db.scalar(select(Notification).where(Notification.channel == "whatsapp"))
    assert n is not None
    protocol.status_hook(db, n, "entregue")
    assert g.status == "entregue"
    receipt = store_file(
        db,
        empresa_id=g.empresa_id,
        data=b"%PDF-1.4 comprovante",
        filename="comprovante.pdf",
        content_type="application/pdf",
        purpose="receipt",
        uploaded_by="cliente",
    )
    protocol.mark_paid(db, guide_id=g.id, actor="cliente", by_client=True, receipt_file_id=receipt)
    assert g.status == "paga" and g.paid_at is not None and g.receipt_file_id == receipt
    protocol.status_hook(db, n, "lida")
    assert g.status == "paga"  # a status never goes back
    paid = _events(db, g, "paga")
    assert paid[0].details == {"por": "cliente", "comprovante": receipt}


def test_dispensing_the_tarefa_cancels_its_guide_and_withdraws_queued_messages(
    db: Session,
) -> None:
    from app.obligations.tarefas import dispense_tarefa
    from models import Tarefa

    g = _ready_guide(db)
    assert protocol.send(db, guide_ids=[g.id])["mensagens"] == 2  # queued, not yet delivered
    t = db.get(Tarefa, g.tarefa_id)
    assert t is not None
    alert = Notification(  # a due-date alert already queued for it (enviar-alertas' key)
        idempotency_key=f"alerta:guia:{g.id}:3:email:maria@cliente.test", empresa_id=g.empresa_id,
        channel="email", recipient="maria@cliente.test", template="alerta_vencimento",
    )  # fmt: skip
    db.add(alert)
    db.flush()
    dispense_tarefa(db, tarefa_id=t.id, actor="ana", reason="Empresa sem movimento")
    db.refresh(g)
    assert g.status == "cancelada"
    [event] = _events(db, g, "cancelada")
    assert event.actor == "ana" and event.details["status_anterior"] == "enviada"
    assert "Empresa sem movimento" in event.details["motivo"]
    audit = db.scalar(select(AuditLog).where(AuditLog.action == "guia.cancelada"))
    assert audit is not None and audit.entity_id == str(g.id) and audit.empresa_id == g.empresa_id
    queued = list(
        db.scalars(select(Notification).where(Notification.template == protocol.TEMPLATE))
    )
    assert [(n.status, n.last_error_code) for n in queued] == [("cancelada", "guia_cancelada")] * 2
    db.refresh(alert)
    assert (alert.status, alert.last_error_code) == ("cancelada", "guia_cancelada")
    # Final: generation, sending and payment leave it cancelled; nothing is queued again.
    assert guides.generate(db, competencia=COMP, empresa_ids=[g.empresa_id]).criadas == 0
    assert protocol.send(db, guide_ids=[g.id])["enviadas"] == 0
    with pytest.raises(Conflict) as err:
        protocol.mark_paid(db, guide_id=g.id, actor="ana", by_client=False)
    assert err.value.code == "guia_cancelada"
    assert g.status == "cancelada" and len(_events(db, g, "cancelada")) == 1
    assert (
        len(list(db.scalars(select(Notification.id)))) == 3
    )  # the two messages and the alert, none queued again
    with pytest.raises(Conflict) as err:  # the operator cannot put a withdrawn message back
        outbox.requeue(db, notification_id=queued[0].id, actor="ana")
    assert err.value.code == "guia_cancelada" and queued[0].status == "cancelada"


def test_a_paid_guide_stays_paid_when_its_tarefa_is_dispensed(db: Session) -> None:
    from app.obligations.tarefas import dispense_tarefa

    g = _ready_guide(db, "55666777000181")
    protocol.mark_paid(db, guide_id=g.id, actor="ana", by_client=False)
    assert g.tarefa_id is not None
    dispense_tarefa(db, tarefa_id=g.tarefa_id, actor="ana", reason="Pago em duplicidade?")
    db.refresh(g)
    assert g.status == "paga" and _events(db, g, "cancelada") == []
