"""The SMTP channel against a real SMTP server (aiosmtpd sink)."""

from __future__ import annotations

import smtplib
from dataclasses import replace
from datetime import date
from email import message_from_bytes
from email.policy import default as default_policy

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.errors import ChannelError
from app.notify.base import Attachment, Link, Message
from app.notify.email import IDEMPOTENCY_HEADER, EmailChannel, SmtpConfig, message_id_for
from app.notify.mailsink import MailSink, free_port
from tests.support.messages import GUIA_CONTEXT
from tests.support.smtp_sink import SmtpSink

PDF = b"%PDF-1.4\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"


def guia(to: str = "financeiro@padaria.example.com.br", key: str = "guia:1:DAS:2026-05") -> Message:
    return Message(
        channel="email",
        to=to,
        template="guia_disponivel",
        idempotency_key=key,
        context=dict(GUIA_CONTEXT),
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


@pytest.mark.parametrize("pipelining", [True, False], ids=["pipelining", "sem-pipelining"])
def test_refusals_and_delivery_behave_alike_with_and_without_pipelining(
    pipelining: bool,
) -> None:
    with SmtpSink(pipelining=pipelining) as sink:
        sink.reject("cliente1@example.com.br")
        with EmailChannel(sink.smtp_config()).open() as session:
            session.send(alerta(0))
            with pytest.raises(ChannelError) as refused:
                session.send(alerta(1))
            sink.tempfail_next(1)
            with pytest.raises(ChannelError) as deferred:
                session.send(alerta(2))
            session.send(alerta(3))  # the connection survives both refusals
        probe = smtplib.SMTP(sink.host, sink.port, timeout=5)
        probe.ehlo()
        advertised = probe.has_extn("pipelining")
        probe.quit()

    assert advertised is pipelining  # so both code paths of the client ran
    assert (refused.value.code, refused.value.details["smtp_code"]) == (
        "destinatario_invalido", 550,
    )  # fmt: skip
    assert (deferred.value.code, deferred.value.permanent) == ("falha_temporaria", False)
    first, last = sink.messages
    assert (first.rcpt_tos, last.rcpt_tos) == (
        ("cliente0@example.com.br",), ("cliente3@example.com.br",),
    )  # fmt: skip
    assert last.subject == "Prazo em 3 dias úteis: DCTFWeb (01/2026) – Empresa 3"
    assert sink.connections == 1


def test_hostile_or_unusual_values_cannot_inject_headers_and_arrive_intact(
    smtp_sink: SmtpSink,
) -> None:
    long_name = 'Relatório de março – Pão & Cia "filial" ' * 3 + "final.pdf"
    hostile_key = "lembrete:" + "k" * 120 + "\r\nBcc: intruso@example.com"
    message = Message(
        channel="email",
        to="ana@example.com.br",
        template="lembrete_solicitacao",
        idempotency_key=hostile_key,
        context={
            "nome": "Ana",
            "empresa": "Padaria " + " ".join(["Pão Quente"] * 12),
            "competencia": "2026-05",
            "itens_faltantes": [".", ".linha que começa com ponto"],
        },
        attachments=(
            Attachment(long_name, PDF, "application/pdf"),
            Attachment("nota\r\nBcc: intruso@example.com.pdf", b"x", "text/plain\r\nBcc: y"),
        ),
    )
    config = smtp_sink.smtp_config(sender_name='Escritório "Contábil" & Cia, Ltda')

    EmailChannel(config).send(message)

    [mail] = smtp_sink.messages
    assert mail.rcpt_tos == ("ana@example.com.br",)
    assert mail.header("Bcc") is None
    assert mail.message["From"].addresses[0].display_name == 'Escritório "Contábil" & Cia, Ltda'
    assert mail.subject.endswith("Padaria " + " ".join(["Pão Quente"] * 12))
    assert mail.header(IDEMPOTENCY_HEADER) == "lembrete:" + "k" * 120 + " Bcc: intruso@example.com"
    assert "- .\n- .linha que começa com ponto\n" in mail.text
    assert mail.attachments == (
        Attachment(long_name, PDF, "application/pdf"),
        Attachment("nota Bcc: intruso@example.com.pdf", b"x", "application/octet-stream"),
    )
    assert all(not part.defects for part in mail.message.walk())


@given(st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=140))
@settings(max_examples=300, deadline=None)
def test_any_printable_idempotency_key_round_trips_through_the_headers(key: str) -> None:
    channel = EmailChannel(SmtpConfig(host="unused", sender_address="n@escritorio.example"))

    raw, message_id = channel.encode(replace(alerta(0), idempotency_key=key))

    parsed = message_from_bytes(raw, policy=default_policy)
    # Unfolding (RFC 5322 §2.2.3) gives the key back; folding only ever adds whitespace.
    assert " ".join(str(parsed[IDEMPOTENCY_HEADER]).split()) == " ".join(key.split())
    assert parsed["Message-ID"] == message_id == message_id_for(key, "n@escritorio.example")
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))  # RFC 5322 §2.1.1
    assert parsed.get_body(("plain",)).get_content().startswith("Olá, Equipe.")
