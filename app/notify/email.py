"""SMTP e-mail channel: renders the pt-BR templates and delivers them over ``smtplib``.

Reply codes follow RFC 5321 §4.2.1: ``4yz`` is a transient failure (retry later), ``5yz`` a
permanent one. Connection problems (refused, timeout, TLS, dropped) are transient. When the
server advertises PIPELINING (RFC 2920), MAIL, RCPT and DATA go in one write: two round trips
per message instead of four.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import smtplib
import ssl
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.header import Header
from email.message import Message as MimeMessage
from email.policy import compat32
from email.utils import encode_rfc2231, formataddr, formatdate, quote
from functools import lru_cache
from typing import Literal, cast

from app.notify.base import (
    DESTINATARIO_INVALIDO,
    FALHA_PERMANENTE,
    FALHA_TEMPORARIA,
    Attachment,
    ChannelError,
    Message,
    SendResult,
    channel_error,
)
from app.notify.render import render

__all__ = ["IDEMPOTENCY_HEADER", "EmailChannel", "SmtpConfig", "SmtpSession", "message_id_for"]

IDEMPOTENCY_HEADER = "X-Contab-Idempotency-Key"
CRLF = b"\r\n"  # SMTP needs CRLF line ends; DATA is sent byte for byte (RFC 5321 §2.3.8)
_WIRE = compat32.clone(linesep="\r\n")

# First digit of the SMTP reply code -> stable error code (RFC 5321 §4.2.1).
_REPLY_CLASS: Mapping[int, str] = {4: FALHA_TEMPORARIA, 5: FALHA_PERMANENTE}
# Same, for a refusal at RCPT TO: a 5yz there means the mailbox does not exist / is not accepted.
_RCPT_REPLY_CLASS: Mapping[int, str] = {4: FALHA_TEMPORARIA, 5: DESTINATARIO_INVALIDO}

# A pragmatic address check: one @, a dot in the domain, no spaces, brackets or line breaks
# (the latter would allow header injection).
_ADDRESS = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$")
_MIME_TYPE = re.compile(r"^[A-Za-z0-9][\w.+-]*/[\w.+-]+$")
_LEADING_DOT = re.compile(rb"(?m)^\.")


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    """How to reach the SMTP server (MAIL_HOST, MAIL_PORT …) and who the sender is."""

    host: str
    port: int = 25
    username: str = ""
    password: str = field(default="", repr=False)
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


# ---------------------------------------------------------------------------- MIME on the wire
# The message is written as bytes directly: the stdlib generator (compat32) costs ~0.7 ms per
# message in header folding alone, more than everything else a send does. The output is the
# same structure the generator wrote (text + HTML alternative, base64 parts, attachments in a
# mixed wrapper); headers that are not short ASCII are folded by the stdlib policy itself.


def _header(name: str, value: str) -> bytes:
    """One header line; RFC 5322 §2.1.1's 78 columns, non-ASCII encoded per RFC 2047."""
    line = f"{name}: {value}"
    if len(line) <= 78 and line.isascii() and line.isprintable():
        return line.encode() + CRLF  # nothing to fold or encode: as compat32 would write it
    return _folded(name, " ".join(value.splitlines()))  # a line break would inject a header


@lru_cache(maxsize=1024)
def _folded(name: str, value: str, charset: str | None = None) -> bytes:
    # Subjects and sender names repeat across a batch: fold each distinct one once. compat32
    # folds a Header object as such (typeshed says str only).
    return _WIRE.fold_binary(name, cast(str, Header(value, charset)) if charset else value)


def _part(content_type: str, payload: bytes, extra: bytes = b"") -> bytes:
    # base64 lines of 76 characters (RFC 2045 §6.8); "_" never occurs in base64, so the
    # "_"-bearing boundaries below cannot collide with any part's content (RFC 2046 §5.1.1).
    body = base64.encodebytes(payload).replace(b"\n", CRLF)
    return (
        _header("Content-Type", content_type)
        + b"MIME-Version: 1.0\r\nContent-Transfer-Encoding: base64\r\n"
        + extra
        + CRLF
        + body
    )


def _multipart(subtype: str, parts: list[bytes], headers: bytes = b"") -> bytes:
    boundary = f"==contab_{secrets.token_hex(12)}".encode()
    out = [
        b"Content-Type: multipart/" + subtype.encode() + b';\r\n boundary="' + boundary + b'"\r\n',
        b"MIME-Version: 1.0\r\n",
        headers,
        CRLF,
    ]
    for part in parts:
        out += [b"--", boundary, CRLF, part, CRLF]
    out += [b"--", boundary, b"--", CRLF]
    return b"".join(out)


def _attachment(attachment: Attachment) -> bytes:
    filename, content, mime = attachment
    mime = mime if _MIME_TYPE.match(mime) else "application/octet-stream"
    name = " ".join(filename.split())  # no line breaks may reach a header
    param = (
        f'filename="{quote(name)}"'
        if name.isascii()
        else (f"filename*={encode_rfc2231(name, 'utf-8')}")
    )
    disposition = _header("Content-Disposition", f"attachment; {param}")
    return _part(mime, content, disposition)


# ---------------------------------------------------------------------------- SMTP session


class SmtpSession:
    """One open SMTP connection reused for many messages (see ``EmailChannel.open``)."""

    def __init__(self, channel: EmailChannel) -> None:
        self._channel = channel
        self._smtp: smtplib.SMTP | None = None

    def send(self, message: Message) -> SendResult:
        """Deliver one message on this connection, reconnecting once if the server dropped it."""
        raw, message_id = self._channel.encode(message)
        for attempt in (1, 2):
            try:
                self._transfer(self._connection(), message.to, raw)
                return SendResult(provider_id=message_id)
            except smtplib.SMTPServerDisconnected as exc:
                self.close()
                if attempt == 2:
                    raise _map_error(exc) from exc
            except (smtplib.SMTPException, OSError) as exc:
                # A refusal leaves the session usable (we sent RSET); anything else may not.
                if not isinstance(
                    exc, smtplib.SMTPResponseException | smtplib.SMTPRecipientsRefused
                ):
                    self.close()
                raise _map_error(exc) from exc
        raise AssertionError("unreachable")

    def _transfer(self, smtp: smtplib.SMTP, to: str, raw: bytes) -> None:
        """One mail transaction: MAIL, RCPT, DATA and the content; raises smtplib's errors."""
        sender = self._channel.config.sender_address
        options = f" SIZE={len(raw)}" if smtp.has_extn("size") else ""
        if not (sender + to).isascii():
            if not smtp.has_extn("smtputf8"):
                raise smtplib.SMTPRecipientsRefused({to: (553, b"SMTPUTF8 indisponivel")})
            options += " SMTPUTF8"
        commands = [f"MAIL FROM:<{sender}>{options}\r\n", f"RCPT TO:<{to}>\r\n", "DATA\r\n"]
        if smtp.has_extn("pipelining"):
            smtp.send("".join(commands).encode())
            replies = [smtp.getreply() for _ in commands]
        else:  # stop at the first refusal, as RFC 5321 §3.3 expects without pipelining
            replies = []
            for command in commands:
                smtp.send(command.encode())
                replies.append(smtp.getreply())
                if replies[-1][0] >= 400:
                    break
        (mail_code, mail_text), *rest = replies
        rcpt = rest[0] if rest else (503, b"")
        data_code, data_text = rest[1] if len(rest) > 1 else (503, b"")
        accepted = mail_code == 250 and rcpt[0] in (250, 251)
        if data_code == 354 and accepted:
            smtp.send(_LEADING_DOT.sub(b"..", raw) + b".\r\n")  # dot-stuffing, RFC 5321 §4.5.2
            code, text = smtp.getreply()
            if code == 250:
                return
            self._reset(smtp)
            raise smtplib.SMTPDataError(code, text)
        if data_code == 354:  # DATA accepted after a refusal: end it empty (RFC 2920 §3.1)
            smtp.send(b".\r\n")
            smtp.getreply()
        self._reset(smtp)
        if mail_code != 250:
            raise smtplib.SMTPSenderRefused(mail_code, mail_text, sender)
        if not accepted:
            raise smtplib.SMTPRecipientsRefused({to: rcpt})
        raise smtplib.SMTPDataError(data_code, data_text)

    @staticmethod
    def _reset(smtp: smtplib.SMTP) -> None:
        try:
            smtp.rset()
        except smtplib.SMTPServerDisconnected:
            pass

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
        self._from = _header(
            "From", formataddr((config.sender_name, config.sender_address), charset="utf-8")
        )

    def encode(self, message: Message) -> tuple[bytes, str]:
        """Render the template into the wire bytes (CRLF) of the mail, and its Message-ID."""
        if not _ADDRESS.match(message.to):
            raise channel_error(DESTINATARIO_INVALIDO, f"Endereço: {message.to!r}.")
        context = {"links": message.links, **message.context}
        if message.links and "link" not in context:
            context["link"] = message.links[0].url
        rendered = render(message.template, context, subject=message.subject)
        message_id = message_id_for(message.idempotency_key, self.config.sender_address)
        headers = b"".join(
            (
                self._from,
                _header("To", message.to),
                _folded("Subject", rendered.subject, "utf-8"),
                _header("Date", formatdate(localtime=False)),
                _header("Message-ID", message_id),
                _header(IDEMPOTENCY_HEADER, message.idempotency_key),
            )
        )
        bodies = [
            _part('text/plain; charset="utf-8"', rendered.text.encode()),
            _part('text/html; charset="utf-8"', rendered.html.encode()),
        ]
        if not message.attachments:
            return _multipart("alternative", bodies, headers), message_id
        parts = [_multipart("alternative", bodies)]
        parts += [_attachment(a) for a in message.attachments]
        return _multipart("mixed", parts, headers), message_id

    def build(self, message: Message) -> MimeMessage:
        """The message as a stdlib ``email`` object (parsed back from :meth:`encode`)."""
        return message_from_bytes(self.encode(message)[0], policy=compat32)

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
