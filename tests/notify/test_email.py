"""The SMTP channel against a real SMTP server (aiosmtpd sink)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import httpx
import pytest

from app.errors import ChannelError
from app.notify.base import Attachment, Link, Message
from app.notify.email import IDEMPOTENCY_HEADER, EmailChannel, message_id_for
from app.notify.mailsink import MailSink, free_port
from tests.support.smtp_sink import SmtpSink

PDF = b"%PDF-1.4\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"


def guia(to: str = "financeiro@padaria.example.com.br", key: str = "guia:1:DAS:2026-05") -> Message:
    return Message(
        channel="email",
        to=to,
        template="guia_disponivel",
        idempotency_key=key,
        context={
            "nome": "Ana Souza",
            "empresa": "Padaria Pão Quente Ltda",
            "imposto": "DAS",
            "competencia": "2026-05",
            "vencimento": date(2026, 6, 22),
            "valor": Decimal("1234.56"),
        },
        attachments=(Attachment("DAS-2026-05.pdf", PDF, "application/pdf"),),
        links=(Link("https://portal.example.com.br/guias/1", "Baixar"),),
    )


def alerta(i: int) -> Message:
    return Message(
        channel="email",
        to=f"cliente{i}@example.com.br",
        template="alerta_tarefa",
        idempotency_key=f"alerta:{i}",
        context={
            "nome": "Equipe",
            "empresa": f"Empresa {i}",
            "tarefa": "DCTFWeb",
            "competencia": "2026-01",
            "vencimento": date(2026, 2, 27),
            "dias_uteis": 3,
        },
    )


def test_guide_email_arrives_with_pt_br_bodies_and_the_pdf(smtp_sink: SmtpSink) -> None:
    result = EmailChannel(smtp_sink.smtp_config()).send(guia())

    [mail] = smtp_sink.messages
    assert mail.rcpt_tos == ("financeiro@padaria.example.com.br",)
    assert mail.mail_from == "nao-responda@escritorio.example.com.br"
    assert mail.subject == "Guia DAS de 05/2026 disponível – vence em 22/06/2026"
    assert "Valor: R$ 1.234,56" in mail.text
    assert "Vencimento: 22/06/2026" in mail.text
    assert "https://portal.example.com.br/guias/1" in mail.text
    assert "<strong>R$ 1.234,56</strong>" in mail.html
    assert 'href="https://portal.example.com.br/guias/1"' in mail.html
    assert mail.attachments == (Attachment("DAS-2026-05.pdf", PDF, "application/pdf"),)
    assert "Escritório Contábil Exemplo" in (mail.header("From") or "")
    assert result.provider_id == mail.header("Message-ID")


def test_message_id_is_derived_from_the_idempotency_key(smtp_sink: SmtpSink) -> None:
    channel = EmailChannel(smtp_sink.smtp_config())
    channel.send(guia(key="k-1"))
    channel.send(guia(key="k-1"))
    channel.send(guia(key="k-2"))

    first, again, other = smtp_sink.messages
    assert first.header("Message-ID") == again.header("Message-ID")
    assert first.header("Message-ID") != other.header("Message-ID")
    assert first.header("Message-ID") == message_id_for(
        "k-1", "nao-responda@escritorio.example.com.br"
    )
    assert first.header(IDEMPOTENCY_HEADER) == "k-1"


def test_refused_recipient_is_a_permanent_invalid_recipient(smtp_sink: SmtpSink) -> None:
    smtp_sink.reject("naoexiste@example.com.br", 550)

    with pytest.raises(ChannelError) as info:
        EmailChannel(smtp_sink.smtp_config()).send(guia(to="naoexiste@example.com.br"))

    assert info.value.permanent is True
    assert info.value.code == "destinatario_invalido"
    assert info.value.details["smtp_code"] == 550
    assert smtp_sink.messages == []


def test_malformed_address_fails_before_connecting(smtp_sink: SmtpSink) -> None:
    smtp_sink.down()
    with pytest.raises(ChannelError) as info:
        EmailChannel(smtp_sink.smtp_config()).send(guia(to="sem-arroba\r\nBcc: x@y.com"))
    assert (info.value.permanent, info.value.code) == (True, "destinatario_invalido")


def test_temporary_4xx_is_transient(smtp_sink: SmtpSink) -> None:
    smtp_sink.tempfail_next(1)
    channel = EmailChannel(smtp_sink.smtp_config())

    with pytest.raises(ChannelError) as info:
        channel.send(guia())
    assert (info.value.permanent, info.value.code) == (False, "falha_temporaria")

    channel.send(guia())
    assert len(smtp_sink.messages) == 1


def test_smtp_down_is_transient_and_recovers(smtp_sink: SmtpSink) -> None:
    channel = EmailChannel(smtp_sink.smtp_config())
    smtp_sink.down()

    with pytest.raises(ChannelError) as info:
        channel.send(guia())
    assert info.value.permanent is False
    assert info.value.code == "falha_temporaria"
    assert info.value.retryable is True

    smtp_sink.up()
    channel.send(guia())
    assert len(smtp_sink.messages) == 1


def test_batch_reuses_one_connection_and_reports_each_outcome(smtp_sink: SmtpSink) -> None:
    smtp_sink.reject("cliente3@example.com.br")
    messages = [alerta(i) for i in range(60)]

    outcomes = EmailChannel(smtp_sink.smtp_config()).send_many(messages)

    failed = [i for i, o in enumerate(outcomes) if isinstance(o, ChannelError)]
    assert failed == [3]
    assert len(smtp_sink.messages) == 59
    assert smtp_sink.connections == 1


def test_batch_while_down_fails_every_message_as_transient(smtp_sink: SmtpSink) -> None:
    smtp_sink.down()
    outcomes = EmailChannel(smtp_sink.smtp_config()).send_many([alerta(i) for i in range(5)])
    assert all(isinstance(o, ChannelError) and not o.permanent for o in outcomes)


def test_batch_survives_the_server_dropping_the_connection(smtp_sink: SmtpSink) -> None:
    channel = EmailChannel(smtp_sink.smtp_config())
    with channel.open() as session:
        session.send(alerta(1))
        smtp_sink.down()
        smtp_sink.up()
        session.send(alerta(2))  # reconnects once, transparently
    assert [m.rcpt_tos for m in smtp_sink.messages] == [
        ("cliente1@example.com.br",),
        ("cliente2@example.com.br",),
    ]


def test_dev_sink_keeps_eml_files_and_serves_an_inbox(tmp_path) -> None:
    sink = MailSink(directory=tmp_path / "mail", http_port=free_port())
    with sink:
        config = SmtpSink.smtp_config(sink)  # type: ignore[arg-type]
        EmailChannel(config).send(guia())
        inbox = httpx.get(f"http://127.0.0.1:{sink.http_port}/", timeout=5)
        detail = httpx.get(f"http://127.0.0.1:{sink.http_port}/mail/1", timeout=5)
        pdf = httpx.get(f"http://127.0.0.1:{sink.http_port}/mail/1/anexo/0", timeout=5)
    [eml] = (tmp_path / "mail").glob("*.eml")
    assert b"Message-ID" in eml.read_bytes()
    assert "Guia DAS de 05/2026" in inbox.text
    assert "R$ 1.234,56" in detail.text
    assert pdf.content == PDF

    with MailSink(directory=tmp_path / "mail") as reopened:  # survives a restart
        assert [m.subject for m in reopened.messages] == [
            "Guia DAS de 05/2026 disponível – vence em 22/06/2026"
        ]
