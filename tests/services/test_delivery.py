"""The outbox drain against real peers: an aiosmtpd sink and a local WhatsApp Cloud API."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.db import session_scope
from app.notifications.delivery import Senders, claim_batch, deliver_batch
from app.notifications.outbox import Recipient, enqueue, requeue
from app.notifications.sending import JOURNAL_PREFIX
from app.notify.email import EmailChannel, message_id_for
from app.notify.whatsapp import WhatsAppChannel, WhatsAppConfig
from app.storage import get_storage
from models import DeliveryAttempt, Notification, StoredFile
from tests.support.smtp_sink import SmtpSink
from tests.support.whatsapp_fake import WhatsAppFake

GUIA = {
    "imposto": "DAS",
    "empresa": "Padaria Pão Bom Ltda",
    "competencia": "2026-05",
    "vencimento": "2026-06-22",
    "valor": Decimal("1234.56"),
    "link": "https://portal.example.com.br/guias/7",
}


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as s:
        yield s


@pytest.fixture
def wa() -> Iterator[WhatsAppFake]:
    with WhatsAppFake() as fake:
        yield fake


@pytest.fixture
def senders(sink: SmtpSink, wa: WhatsAppFake, redis_client) -> Iterator[Senders]:  # type: ignore[no-untyped-def]
    config = WhatsAppConfig(
        api_key=wa.token, phone_number_id=wa.phone_number_id, base_url=wa.base_url
    )
    with WhatsAppChannel(config) as whatsapp:
        yield Senders(
            redis=redis_client,
            email=EmailChannel(sink.smtp_config()),
            whatsapp=whatsapp,
            storage=get_storage(),
        )


def queue(n: int, channel: str = "email", prefix: str = "guia", attachments=()) -> None:  # type: ignore[no-untyped-def]
    with session_scope() as s:
        for i in range(n):
            address = (
                f"cliente{i}@example.com.br" if channel == "email" else f"+55 11 98765-{i:04d}"
            )
            enqueue(
                s,
                key=f"{prefix}:{i}",
                recipients=[Recipient(channel, address, f"Cliente {i}")],
                template="guia_disponivel",
                context=GUIA,
                attachments=attachments,
            )


def drain(senders: Senders, *, at: datetime | None = None, limit: int = 500) -> dict[str, int]:
    return deliver_batch(
        transaction=session_scope, senders=senders, limit=limit, now=(lambda: at) if at else None
    )


def statuses() -> dict[str, int]:
    with session_scope() as s:
        rows = s.execute(select(Notification.status, func.count()).group_by(Notification.status))
        return {k: int(v) for k, v in rows}


def message_ids(sink: SmtpSink) -> list[str]:
    return [m.header("Message-ID") or "" for m in sink.messages]


def test_email_reaches_the_sink_with_subject_body_and_attachment(
    clean_db: None, sink: SmtpSink, senders: Senders
) -> None:
    pdf = b"%PDF-1.4 guia DAS 05/2026"
    get_storage().put("guias/7.pdf", pdf)
    with session_scope() as s:
        f = StoredFile(
            sha256="a" * 64, size=len(pdf), content_type="application/pdf",
            original_name="DAS-2026-05.pdf", storage_key="guias/7.pdf", purpose="guide",
        )  # fmt: skip
        s.add(f)
        s.flush()
        file_id = f.id
    queue(1, attachments=[file_id])

    report = drain(senders)

    assert report["enviadas"] == 1
    [mail] = sink.messages
    assert mail.rcpt_tos == ("cliente0@example.com.br",)
    assert "Guia DAS de 05/2026 disponível" in mail.subject
    assert "Olá, Cliente 0." in mail.text and "R$ 1.234,56" in mail.text
    assert mail.attachments[0].filename == "DAS-2026-05.pdf"
    assert mail.attachments[0].content == pdf
    assert mail.header("Message-ID") == message_id_for(
        "guia:0:email:cliente0@example.com.br", senders.email.config.sender_address
    )
    with session_scope() as s:
        n = s.scalars(select(Notification)).one()
        assert (n.status, n.attempts, n.provider_id) == ("enviada", 1, mail.header("Message-ID"))
        [attempt] = s.scalars(select(DeliveryAttempt)).all()
        assert (attempt.outcome, attempt.channel, attempt.provider_id) == (
            "enviada", "email", n.provider_id,
        )  # fmt: skip


def test_one_smtp_connection_per_batch_and_rerun_sends_nothing(
    clean_db: None, sink: SmtpSink, senders: Senders
) -> None:
    queue(30)
    assert drain(senders)["enviadas"] == 30
    assert drain(senders)["reivindicadas"] == 0
    queue(30)  # same keys again: idempotent outbox, nothing new
    assert drain(senders)["reivindicadas"] == 0
    assert len(sink.messages) == 30 and sink.connections == 1
    assert len(set(message_ids(sink))) == 30


def test_two_workers_never_claim_the_same_row(clean_db: None) -> None:
    queue(10)
    now = datetime.now(UTC)
    with session_scope() as a, session_scope() as b:
        first = claim_batch(a, worker="w1", limit=6, now=now)
        second = claim_batch(b, worker="w2", limit=6, now=now)  # a still holds its row locks
    assert len(first) == 6 and len(second) == 4
    assert not {c.id for c in first} & {c.id for c in second}


def test_smtp_down_for_a_while_then_back_delivers_everything_once(
    clean_db: None, sink: SmtpSink, senders: Senders
) -> None:
    queue(20)
    sink.down()
    report = drain(senders)
    assert report["enviadas"] == 0 and statuses() == {"pendente": 20}
    report = drain(senders, at=datetime.now(UTC) + timedelta(minutes=2))
    assert report["enviadas"] == 0
    sink.up()
    drain(senders, at=datetime.now(UTC) + timedelta(minutes=5))

    assert statuses() == {"enviada": 20}
    ids = message_ids(sink)
    assert len(ids) == 20 and len(set(ids)) == 20  # zero duplicates
    with session_scope() as s:
        # An unreachable server is the channel's problem: no message spent its attempts.
        assert s.scalar(select(func.max(Notification.attempts))) == 1


def test_permanent_refusal_stops_with_the_reason(
    clean_db: None, sink: SmtpSink, senders: Senders
) -> None:
    sink.reject("cliente1@example.com.br")
    queue(3)
    drain(senders)
    drain(senders, at=datetime.now(UTC) + timedelta(hours=2))
    with session_scope() as s:
        failed = s.scalars(select(Notification).where(Notification.status == "falhou")).one()
        assert failed.recipient == "cliente1@example.com.br"
        assert (failed.attempts, failed.last_error_code) == (1, "destinatario_invalido")
    assert statuses() == {"enviada": 2, "falhou": 1}


def test_transient_failures_retry_with_backoff_then_fail_and_can_be_requeued(
    clean_db: None, sink: SmtpSink, senders: Senders
) -> None:
    queue(1)
    sink.tempfail_next(10)
    start = datetime.now(UTC)
    drain(senders, at=start)
    with session_scope() as s:
        n = s.scalars(select(Notification)).one()
        assert n.status == "pendente" and n.last_error_code == "falha_temporaria"
        assert start + timedelta(seconds=29) < n.next_attempt_at < start + timedelta(seconds=91)
    assert drain(senders, at=start)["reivindicadas"] == 0  # backoff respected
    drain(senders, at=start + timedelta(hours=1))
    drain(senders, at=start + timedelta(hours=2))
    assert statuses() == {"falhou": 1}
    with session_scope() as s:
        n = s.scalars(select(Notification)).one()
        assert n.attempts == 3
        requeue(s, notification_id=n.id, actor="operador", reason="SMTP corrigido")
    sink.clear()
    drain(senders)
    assert statuses() == {"enviada": 1} and len(sink.messages) == 1


def test_whatsapp_payload_carries_template_key_and_signed_document_link(
    clean_db: None, wa: WhatsAppFake, senders: Senders
) -> None:
    get_storage().put("guias/9.pdf", b"%PDF guia")
    with session_scope() as s:
        f = StoredFile(
            sha256="b" * 64, size=9, content_type="application/pdf",
            original_name="DAS.pdf", storage_key="guias/9.pdf", purpose="guide",
        )  # fmt: skip
        s.add(f)
        s.flush()
        file_id = f.id
    queue(1, channel="whatsapp", attachments=[file_id])

    drain(senders)

    [sent] = wa.messages
    body = sent.body
    assert body["to"] == "5511987650000" and body["template"]["name"] == "guia_disponivel"
    assert body["biz_opaque_callback_data"] == "guia:0:whatsapp:+55 11 98765-0000"
    header = body["template"]["components"][0]["parameters"][0]["document"]
    assert header["filename"] == "DAS.pdf" and "/api/files/" in header["link"]
    params = [p["text"] for p in body["template"]["components"][1]["parameters"]]
    assert params[0] == "Cliente 0" and "R$ 1.234,56" in params
    with session_scope() as s:
        assert s.scalars(select(Notification.provider_id)).one() == sent.wamid


def test_whatsapp_429_storm_respects_the_rate_and_delivers_all_once(
    clean_db: None, wa: WhatsAppFake, senders: Senders, redis_client
) -> None:  # type: ignore[no-untyped-def]
    from app.notify.factory import rate_limiter

    # The provider allows 60/s (burst 40); our bucket sends at 40/s (burst 40): beyond the
    # programmed storm the fake must never have to answer 429.
    wa.rate_limit(60, 40)
    senders.whatsapp = WhatsAppChannel(
        senders.whatsapp.config, limiter=rate_limiter(redis_client, "test:whatsapp", 40)
    )
    wa.fail_next(8, status=429, retry_after=0)
    queue(40, channel="whatsapp")

    now = datetime.now(UTC)
    for i in range(6):
        drain(senders, at=now + timedelta(minutes=i))
    senders.whatsapp.close()

    assert statuses() == {"enviada": 40}
    recipients = [m.body["to"] for m in wa.messages]
    assert len(recipients) == 40 and len(set(recipients)) == 40  # zero duplicates, none lost
    assert wa.requests == 40 + 8  # only the programmed storm was refused
    with session_scope() as s:
        throttled = s.scalar(
            select(func.count()).where(DeliveryAttempt.error_code == "limite_de_taxa")
        )
        assert throttled == 8
        assert s.scalar(select(func.max(Notification.attempts))) == 1  # 429 burns no attempt


def test_permanent_whatsapp_error_and_opt_out_stop_without_retry(
    clean_db: None, wa: WhatsAppFake, senders: Senders
) -> None:
    wa.fail_number("5511987650001", code=131026)
    queue(2, channel="whatsapp")
    drain(senders)
    with session_scope() as s:
        failed = s.scalars(select(Notification).where(Notification.status == "falhou")).one()
        assert failed.last_error_code == "destinatario_invalido"
    assert len(wa.messages) == 1


class HoldingSink(SmtpSink):
    """Holds every DATA until ``release`` is set (answers 451 if nobody sets it in 5 s)."""

    release = threading.Event()

    def _accept(self, session, envelope):  # type: ignore[no-untyped-def]
        if not self.release.wait(5):
            return "451 4.3.0 Ninguem liberou"
        return super()._accept(session, envelope)


def test_a_slow_smtp_server_does_not_hold_whatsapp_messages_back(
    clean_db: None, wa: WhatsAppFake, redis_client
) -> None:  # type: ignore[no-untyped-def]
    queue(2)  # the e-mails get the lowest ids: first in the batch
    queue(5, channel="whatsapp", prefix="wa")
    config = WhatsAppConfig(
        api_key=wa.token, phone_number_id=wa.phone_number_id, base_url=wa.base_url
    )
    sink = HoldingSink()
    sink.release = threading.Event()

    def release_once_whatsapp_got_everything() -> None:
        deadline = time.monotonic() + 30
        while len(wa.messages) < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        sink.release.set()

    watcher = threading.Thread(target=release_once_whatsapp_got_everything)
    watcher.start()
    with sink, WhatsAppChannel(config) as whatsapp:
        senders = Senders(
            redis=redis_client, email=EmailChannel(sink.smtp_config()), whatsapp=whatsapp
        )
        report = drain(senders)
    watcher.join()

    # The SMTP server only answered once WhatsApp had everything: the channels ran side by side.
    assert report["enviadas"] == 7 and statuses() == {"enviada": 7}
    assert len(set(message_ids(sink))) == 2 and len({m.wamid for m in wa.messages}) == 5
    with session_scope() as s:
        journal = [f"{JOURNAL_PREFIX}{i}" for i in s.scalars(select(Notification.id))]
    assert redis_client.exists(*journal) == 0  # recorded: the journal is clean
