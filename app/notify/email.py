"""SMTP e-mail channel: renders the pt-BR templates and delivers them over ``smtplib``.

Reply codes follow RFC 5321 §4.2.1: ``4yz`` is a transient failure (retry later), ``5yz`` a
permanent one. Connection problems (refused, timeout, TLS, dropped) are transient.
"""

from __future__ import annotations

import hashlib
import re
import smtplib
import ssl
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from email.encoders import encode_base64
from email.header import Header
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import formataddr, formatdate
from typing import Literal

from app.notify.base import (
    DESTINATARIO_INVALIDO,
    FALHA_PERMANENTE,
    FALHA_TEMPORARIA,
    ChannelError,
    Message,
    SendResult,
    channel_error,
)
from app.notify.render import render

__all__ = ["IDEMPOTENCY_HEADER", "EmailChannel", "SmtpConfig", "SmtpSession", "message_id_for"]

IDEMPOTENCY_HEADER = "X-Contab-Idempotency-Key"
# SMTP needs CRLF line ends; sendmail() sends bytes untouched (RFC 5321 §2.3.8).
_WIRE = compat32.clone(linesep="\r\n")

# First digit of the SMTP reply code -> stable error code (RFC 5321 §4.2.1).
_REPLY_CLASS: Mapping[int, str] = {4: FALHA_TEMPORARIA, 5: FALHA_PERMANENTE}
# Same, for a refusal at RCPT TO: a 5yz there means the mailbox does not exist / is not accepted.
_RCPT_REPLY_CLASS: Mapping[int, str] = {4: FALHA_TEMPORARIA, 5: DESTINATARIO_INVALIDO}

# A pragmatic address check: one @, a dot in the domain, no spaces, brackets or line breaks
# (the latter would allow header injection).
_ADDRESS = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$")


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    """How to reach the SMTP server (MAIL_HOST, MAIL_PORT …) and who the sender is."""

    host: str
    port: int = 25
    username: str = ""
    password: str = ""
    security: Literal["none", "starttls", "ssl"] = "none"
    sender_address: str = "nao-responda@localhost"
    sender_name: str = "Escritório Contábil"
    timeout: float = 10.0


def message_id_for(idempotency_key: str, sender_address: str) -> str:
    """Deterministic Message-ID: the same notification always carries the same id."""
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]
    domain = sender_address.rpartition("@")[2] or "contab.local"
    return f"<{digest}@{domain}>"


def _map_error(exc: Exception) -> ChannelError:
    """Translate an smtplib / socket error into the stable ChannelError codes."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        reply, text = next(iter(exc.recipients.values()), (550, b""))
        code = _RCPT_REPLY_CLASS.get(reply // 100, FALHA_TEMPORARIA)
        return channel_error(code, smtp_code=reply, smtp_message=_text(text))
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        # The message is fine; the credentials are not. Retrying after the operator fixes
        # MAIL_USERNAME/MAIL_PASSWORD succeeds, so this is not a permanent failure of the message.
        return channel_error(
            FALHA_TEMPORARIA, "Falha de autenticação no servidor SMTP.", smtp_code=exc.smtp_code
        )
    if isinstance(exc, smtplib.SMTPConnectError | smtplib.SMTPHeloError):
        return channel_error(FALHA_TEMPORARIA, smtp_code=exc.smtp_code)
    if isinstance(exc, smtplib.SMTPResponseException):
        code = _REPLY_CLASS.get(exc.smtp_code // 100, FALHA_TEMPORARIA)
        return channel_error(code, smtp_code=exc.smtp_code, smtp_message=_text(exc.smtp_error))
    return channel_error(FALHA_TEMPORARIA, f"({type(exc).__name__}: {exc})")


def _text(raw: bytes | str) -> str:
    return raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)


class SmtpSession:
    """One open SMTP connection reused for many messages (see ``EmailChannel.open``)."""

    def __init__(self, channel: EmailChannel) -> None:
        self._channel = channel
        self._smtp: smtplib.SMTP | None = None

    def send(self, message: Message) -> SendResult:
        """Deliver one message on this connection, reconnecting once if the server dropped it."""
        mail = self._channel.build(message)
        raw = mail.as_bytes(policy=_WIRE)
        for attempt in (1, 2):
            try:
                smtp = self._connection()
                smtp.sendmail(self._channel.config.sender_address, [message.to], raw)
                return SendResult(provider_id=str(mail["Message-ID"]))
            except smtplib.SMTPServerDisconnected as exc:
                self.close()
                if attempt == 2:
                    raise _map_error(exc) from exc
            except (smtplib.SMTPException, OSError) as exc:
                # A refusal leaves the session usable (smtplib sent RSET); anything else may not.
                if not isinstance(
                    exc, smtplib.SMTPResponseException | smtplib.SMTPRecipientsRefused
                ):
                    self.close()
                raise _map_error(exc) from exc
        raise AssertionError("unreachable")

    @property
    def connected(self) -> bool:
        """Whether a live connection is held."""
        return self._smtp is not None

    def close(self) -> None:
        """Say QUIT (best effort) and drop the connection."""
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is None:
            self._smtp = self._channel.connect()
        return self._smtp


class EmailChannel:
    """The e-mail Channel: ``send`` for one message, ``open``/``send_many`` for batches."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config

    def build(self, message: Message) -> MIMEMultipart:
        """Render the template into a MIME message (text + HTML alternative + attachments)."""
        # email.mime (compat32) rather than EmailMessage: the new header registry costs ~2 ms
        # per message, which alone would cap a batch below the 200 e-mails/s target.
        if not _ADDRESS.match(message.to):
            raise channel_error(DESTINATARIO_INVALIDO, f"Endereço: {message.to!r}.")
        context = {"links": message.links, **message.context}
        if message.links and "link" not in context:
            context["link"] = message.links[0].url
        rendered = render(message.template, context, subject=message.subject)
        cfg = self.config
        body = MIMEMultipart("alternative")
        body.attach(MIMEText(rendered.text, "plain", "utf-8"))
        body.attach(MIMEText(rendered.html, "html", "utf-8"))
        if message.attachments:
            mail = MIMEMultipart("mixed")
            mail.attach(body)
            for filename, content, mime in message.attachments:
                maintype, _, subtype = mime.partition("/")
                part = MIMEBase(maintype or "application", subtype or "octet-stream")
                part.set_payload(content)
                encode_base64(part)
                part.add_header("Content-Disposition", "attachment", filename=filename)
                mail.attach(part)
        else:
            mail = body
        mail["From"] = formataddr((cfg.sender_name, cfg.sender_address), charset="utf-8")
        mail["To"] = message.to
        mail["Subject"] = Header(rendered.subject, "utf-8")  # type: ignore[assignment]
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = message_id_for(message.idempotency_key, cfg.sender_address)
        mail[IDEMPOTENCY_HEADER] = message.idempotency_key
        return mail

    def connect(self) -> smtplib.SMTP:
        """Open, secure and authenticate a connection (every socket call has the timeout)."""
        cfg = self.config
        try:
            smtp: smtplib.SMTP
            if cfg.security == "ssl":
                context = ssl.create_default_context()
                smtp = smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=cfg.timeout, context=context)
            else:
                smtp = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout)
            try:
                smtp.ehlo()
                if cfg.security == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
                    smtp.ehlo()
                if cfg.username:
                    smtp.login(cfg.username, cfg.password)
            except BaseException:
                smtp.close()
                raise
        except (smtplib.SMTPException, OSError) as exc:
            raise _map_error(exc) from exc
        return smtp

    @contextmanager
    def open(self) -> Iterator[SmtpSession]:
        """Hold one SMTP connection for a batch; it is opened lazily and closed on exit."""
        session = SmtpSession(self)
        try:
            yield session
        finally:
            session.close()

    def send(self, message: Message) -> SendResult:
        """Deliver one message on its own connection."""
        with self.open() as session:
            return session.send(message)

    def send_many(self, messages: Iterable[Message]) -> list[SendResult | ChannelError]:
        """Deliver a batch on one connection; one outcome per message, in order.

        After a connection-level failure the rest of the batch gets the same transient error
        instead of one connect attempt (and timeout) per message.
        """
        outcomes: list[SendResult | ChannelError] = []
        down: ChannelError | None = None
        with self.open() as session:
            for message in messages:
                if down is not None:
                    outcomes.append(down)
                    continue
                try:
                    outcomes.append(session.send(message))
                except ChannelError as exc:
                    outcomes.append(exc)
                    if not exc.permanent and not session.connected:
                        down = exc
        return outcomes
