"""Order messages by WhatsApp (real database; the outbox drained into a local server playing
Meta's Cloud API contract): to contacts with a number when WhatsApp is configured, with the
registered template names and body parameters; result files as the document header."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from app.db import session_scope
from app.fiscal.calendar import BusinessCalendar
from app.notifications.delivery import Senders, deliver_batch
from app.notify.email import EmailChannel
from app.notify.whatsapp import TEMPLATE_PARAMETERS, WhatsAppChannel, WhatsAppConfig
from app.orders.notify import client_recipients, whatsapp_configured
from app.orders.office import change_status
from app.orders.processing import process_order
from app.orders.service import Attachment, open_order
from app.settings import get_settings
from app.storage import get_storage
from models import Contact, Empresa, Notification
from tests.support.smtp_sink import SmtpSink
from tests.support.whatsapp_fake import WhatsAppFake

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF"
OPENED = datetime(2026, 6, 5, 15, 0, tzinfo=UTC)  # certidão negativa due 10/06/2026


@pytest.fixture
def wa(monkeypatch: pytest.MonkeyPatch) -> Iterator[WhatsAppFake]:
    with WhatsAppFake() as fake:
        monkeypatch.setenv("WHATSAPP_API_KEY", fake.token)
        monkeypatch.setenv("WHATSAPP_PHONE_NUMBER_ID", fake.phone_number_id)
        get_settings.cache_clear()
        try:
            yield fake
        finally:
            monkeypatch.undo()
            get_settings.cache_clear()


def _seed() -> tuple[int, int]:
    with session_scope() as s:
        e = Empresa(cnpj="11222333000181", razao_social="Padaria Pão Quente", regime="SIMPLES",
                    uf="SP", ibge_code="3550308")  # fmt: skip
        s.add(e)
        s.flush()
        s.add_all([
            Contact(empresa_id=e.id, name="Maria", email="maria@padaria.exemplo",
                    phone="+55 11 98765-4321"),
            # chose e-mail for orders: no WhatsApp although she has a number
            Contact(empresa_id=e.id, name="Joana", email="joana@padaria.exemplo",
                    phone="+55 11 91111-2222", preferences={"pedido": ["email"]}),
            Contact(empresa_id=e.id, name="Rui", phone="+55 11 93333-4444",
                    opt_out_whatsapp=True),
        ])  # fmt: skip
        order = open_order(s, empresa_id=e.id, kind="certidao_negativa", description="CND",
                           files=[], actor="cliente")  # fmt: skip
        order.created_at = OPENED
        return e.id, order.id


def _rows(template: str) -> list[tuple[str, str, list[int]]]:
    with session_scope() as s:
        q = select(Notification).where(Notification.template == template)
        return sorted((n.channel, n.recipient, n.attachments) for n in s.scalars(q))


def test_order_messages_go_by_whatsapp_with_registered_templates(  # type: ignore[no-untyped-def]
    clean_db: None, wa: WhatsAppFake, redis_client
) -> None:
    assert whatsapp_configured()
    empresa_id, order_id = _seed()
    with session_scope() as s:
        process_order(s, order_id=order_id, storage=get_storage(), calendar=BusinessCalendar(),
                      max_bytes=1024)  # fmt: skip
    with session_scope() as s:
        change_status(s, order_id=order_id, status="concluido", actor="escritorio",
                      reply="Segue a certidão.",
                      results=[Attachment("cnd.pdf", "application/pdf", PDF)])  # fmt: skip
    assert _rows("pedido_recebido") == [
        ("email", "joana@padaria.exemplo", []),
        ("email", "maria@padaria.exemplo", []),
        ("whatsapp", "+55 11 98765-4321", []),
    ]
    [(_, _, [result_file])] = _rows("pedido_situacao_documento")
    assert [r[:2] for r in _rows("pedido_situacao")] == [
        ("email", "joana@padaria.exemplo"),
        ("email", "maria@padaria.exemplo"),
    ]
    config = WhatsAppConfig(api_key=wa.token, phone_number_id=wa.phone_number_id,
                            base_url=wa.base_url)  # fmt: skip
    with SmtpSink() as sink, WhatsAppChannel(config) as whatsapp:
        senders = Senders(redis=redis_client, email=EmailChannel(sink.smtp_config()),
                          whatsapp=whatsapp, storage=get_storage())  # fmt: skip
        report = deliver_batch(transaction=session_scope, senders=senders, limit=100)
        assert report["enviadas"] == report["reivindicadas"] == 6, report
        assert len(sink.to("maria@padaria.exemplo")) == 2
    # the fake accepted both (it validates Meta's contract); body parameters in order
    sent = {m.body["template"]["name"]: m.body for m in wa.messages}
    assert set(sent) == {"pedido_recebido", "pedido_situacao_documento"}
    assert all(m.body["to"] == "5511987654321" for m in wa.messages)

    def params(name: str) -> list[str]:
        body = next(c for c in sent[name]["template"]["components"] if c["type"] == "body")
        return [p["text"] for p in body["parameters"]]

    assert params("pedido_recebido") == [
        "Maria", str(order_id), "Certidão negativa de débitos", "Padaria Pão Quente",
        "10/06/2026",
    ]  # fmt: skip
    assert params("pedido_situacao_documento") == [
        "Maria", str(order_id), "Certidão negativa de débitos", "Padaria Pão Quente",
        "Concluído", "Segue a certidão.",
    ]  # fmt: skip
    header = sent["pedido_situacao_documento"]["template"]["components"][0]
    assert header["type"] == "header"
    assert header["parameters"][0]["document"]["filename"] == "cnd.pdf"
    assert result_file
    with session_scope() as s:
        assert not [r for r in client_recipients(s, empresa_id=empresa_id, whatsapp=False)
                    if r.channel == "whatsapp"]  # fmt: skip


def test_every_order_template_is_registered_for_whatsapp() -> None:
    for name in ("pedido_recebido", "pedido_situacao", "pedido_situacao_documento"):
        assert name in TEMPLATE_PARAMETERS


def test_without_whatsapp_configured_orders_go_by_email_only(clean_db: None) -> None:
    assert not whatsapp_configured()
    _, order_id = _seed()
    with session_scope() as s:
        process_order(s, order_id=order_id, storage=get_storage(), calendar=BusinessCalendar(),
                      max_bytes=1024)  # fmt: skip
    assert {r[0] for r in _rows("pedido_recebido")} == {"email"}
