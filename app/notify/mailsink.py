"""A local SMTP sink (Mailpit-like) for development and tests.

It accepts every message on 127.0.0.1 and keeps its raw bytes in memory (parsed with the stdlib
``email`` package only when read), optionally writes them as ``.eml`` into a directory
(``var/mail/`` for ``make dev``), and serves a tiny read-only HTML inbox over HTTP. It is kept
cheap per message so that a benchmark mostly measures the sender: raw bytes only, a fast path
for plain SMTP paths, and PIPELINING (RFC 2920) advertised. Faults can be switched on: refuse
given recipients (e.g. 550), answer 451 to the next N messages, or go ``down()`` (connections
refused) and ``up()``.

Run it with ``python -m app.notify.mailsink --smtp-port 1025 --http-port 8025 --dir var/mail``.
"""

from __future__ import annotations

import argparse
import re
import signal
import socket
import threading
import time
from email import message_from_bytes
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.policy import default as default_policy
from functools import cached_property
from pathlib import Path
from typing import Any, Self, cast

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session

from app.notify.base import Attachment

__all__ = ["CapturedMail", "MailSink", "free_port", "main", "parse_mail"]


def free_port(host: str = "127.0.0.1") -> int:
    """Ask the OS for a TCP port that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class CapturedMail:
    """One received message: envelope, decoded bodies and attachments (parsed on first use)."""

    def __init__(
        self, raw: bytes, *, mail_from: str = "", rcpt_tos: tuple[str, ...] = (), peer: str = ""
    ) -> None:
        self.raw = raw
        self.mail_from = mail_from
        self.rcpt_tos = rcpt_tos
        self.peer = peer

    def __repr__(self) -> str:
        return f"CapturedMail(rcpt_tos={self.rcpt_tos!r}, subject={self.subject!r})"

    @cached_property
    def message(self) -> EmailMessage:
        """The parsed message (stdlib ``email``, modern policy)."""
        # Parsing is deferred so the SMTP thread only stores bytes: keeps the sink fast.
        return cast(EmailMessage, message_from_bytes(self.raw, policy=default_policy))

    @property
    def subject(self) -> str:
        """Decoded Subject."""
        return self.header("Subject") or ""

    @property
    def text(self) -> str:
        """The text/plain body ("" when absent)."""
        part = self.message.get_body(preferencelist=("plain",))
        return str(part.get_content()) if part is not None else ""

    @property
    def html(self) -> str:
        """The text/html body ("" when absent)."""
        part = self.message.get_body(preferencelist=("html",))
        return str(part.get_content()) if part is not None else ""

    @property
    def attachments(self) -> tuple[Attachment, ...]:
        """Every attachment with its decoded bytes."""
        return tuple(
            Attachment(
                part.get_filename() or "",
                cast(bytes, part.get_payload(decode=True)) or b"",
                part.get_content_type(),
            )
            for part in self.message.iter_attachments()
        )

    @cached_property
    def _headers(self) -> Message:
        # Header-only compat32 parse: what listings need, ~50x cheaper than the full parse.
        return BytesHeaderParser(policy=compat32).parsebytes(self.raw)

    def header(self, name: str) -> str | None:
        """A decoded header value without folding whitespace, or None."""
        # Folding whitespace never changes a header's meaning (RFC 5322 §2.2.3).
        value = self._headers[name]
        if value is None:
            return None
        return " ".join(str(make_header(decode_header(str(value)))).split())


def parse_mail(
    raw: bytes, *, mail_from: str = "", rcpt_tos: tuple[str, ...] = (), peer: str = ""
) -> CapturedMail:
    """Wrap raw RFC 5322 bytes as a CapturedMail (envelope defaults to From/To headers)."""
    mail = CapturedMail(raw, mail_from=mail_from, rcpt_tos=rcpt_tos, peer=peer)
    if not mail_from:
        mail.mail_from = mail.header("From") or ""
    if not rcpt_tos:
        mail.rcpt_tos = tuple(a.strip() for a in (mail.header("To") or "").split(",") if a)
    return mail


# RFC 5321 §4.1.2 Path "<" Mailbox ">" with a dot-atom local part and a plain domain: what
# every client of ours sends. Anything else goes to aiosmtpd's full RFC 5322 parser.
_PLAIN_PATH = re.compile(
    r"\s*<([A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*)>"
)


class _FastSMTP(SMTP):
    """aiosmtpd's server with a fast path for plain ``<local@domain>`` paths.

    aiosmtpd parses every MAIL/RCPT argument with the stdlib's full RFC 5322 header parser,
    a third of the sink's CPU per message; the result for a plain path is the same (tested).
    """

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        match = _PLAIN_PATH.match(arg)
        if match is None:
            return super()._getaddr(arg)
        address = match.group(1)
        if self.local_part_limit and len(address.rpartition("@")[0]) > self.local_part_limit:
            return None, None
        return address, arg[match.end() :].lstrip()


class _Controller(Controller):
    def factory(self) -> SMTP:
        return _FastSMTP(self.handler, **self.SMTP_kwargs)


class _Handler:
    """aiosmtpd handler: applies the programmed faults, then captures."""

    def __init__(self, sink: MailSink) -> None:
        self.sink = sink

    async def handle_EHLO(
        self, server: Any, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        # Commands are read strictly in order, so pipelined ones (RFC 2920) are safe to accept;
        # advertising it lets clients save two round trips per message.
        session.host_name = hostname
        if not self.sink.pipelining:
            return responses
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_RCPT(
        self, server: Any, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        refusal = self.sink._refusal_for(address)
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        return self.sink._accept(session, envelope)


def _accept_any_login(*_args: Any) -> AuthResult:
    # Like Mailpit: any credentials are accepted, so a DEV config with MAIL_USERNAME works.
    return AuthResult(success=True)


class MailSink:
    """The SMTP sink; a context manager that starts and stops it."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        directory: Path | None = None,
        http_port: int | None = None,
        pipelining: bool = True,
    ) -> None:
        self.host = host
        self.pipelining = pipelining  # advertise RFC 2920 PIPELINING in the EHLO reply
        self.port = port or free_port(host)
        self.directory = directory
        self.http_port = http_port
        self._lock = threading.Lock()
        self._mails: list[CapturedMail] = []
        self._refused: dict[str, str] = {}
        self._tempfail_data = 0
        self._controller: Controller | None = None
        self._http: Any = None

    # lifecycle -------------------------------------------------------------------------
    def start(self) -> Self:
        """Start SMTP (and the HTTP inbox when ``http_port`` is set)."""
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._load_directory()
        self.up()
        if self.http_port is not None:
            from app.notify.mailsink_http import start_inbox

            self._http = start_inbox(self, self.host, self.http_port)
        return self

    def stop(self) -> None:
        """Stop everything."""
        self.down()
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None

    def down(self) -> None:
        """Stop listening: new connections are refused (simulates "SMTP fora do ar")."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def up(self) -> None:
        """Listen again on the same port."""
        if self._controller is None:
            controller = _Controller(
                _Handler(self),
                hostname=self.host,
                port=self.port,
                enable_SMTPUTF8=True,
                auth_require_tls=False,
                authenticator=_accept_any_login,
            )
            controller.start()
            self._controller = controller

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # faults ----------------------------------------------------------------------------
    def reject(
        self, address: str, code: int = 550, text: str = "5.1.1 Mailbox unavailable"
    ) -> None:
        """Refuse this recipient at RCPT TO with the given reply."""
        with self._lock:
            self._refused[address.lower()] = f"{code} {text}"

    def tempfail_next(self, count: int = 1) -> None:
        """Answer ``451`` to the DATA of the next ``count`` messages."""
        with self._lock:
            self._tempfail_data = count

    # captured mail ---------------------------------------------------------------------
    @property
    def messages(self) -> list[CapturedMail]:
        """A snapshot of every captured message, oldest first."""
        with self._lock:
            return list(self._mails)

    @property
    def connections(self) -> int:
        """How many distinct client connections delivered at least one message."""
        with self._lock:
            return len({m.peer for m in self._mails})

    def clear(self) -> None:
        """Forget captured messages and faults."""
        with self._lock:
            self._mails.clear()
            self._refused.clear()
            self._tempfail_data = 0

    def wait_for(self, count: int, timeout: float = 5.0) -> list[CapturedMail]:
        """Wait until at least ``count`` messages arrived (for asynchronous senders)."""
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.messages

    # internals -------------------------------------------------------------------------
    def _refusal_for(self, address: str) -> str | None:
        with self._lock:
            return self._refused.get(address.lower())

    def _accept(self, session: Session, envelope: Envelope) -> str:
        with self._lock:
            if self._tempfail_data > 0:
                self._tempfail_data -= 1
                return "451 4.3.0 Temporary failure, try again later"
        raw = cast(bytes, envelope.original_content or envelope.content)
        peer = session.peer
        mail = parse_mail(
            raw,
            mail_from=str(envelope.mail_from or ""),
            rcpt_tos=tuple(envelope.rcpt_tos),
            peer=f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer),
        )
        with self._lock:
            self._mails.append(mail)
            index = len(self._mails)
        if self.directory is not None:
            name = f"{time.strftime('%Y%m%dT%H%M%S')}-{index:06d}.eml"
            (self.directory / name).write_bytes(raw)
        return "250 Message accepted"

    def _load_directory(self) -> None:
        assert self.directory is not None
        for path in sorted(self.directory.glob("*.eml")):
            self._mails.append(parse_mail(path.read_bytes(), peer="arquivo"))


def main(argv: list[str] | None = None) -> None:
    """Run the sink in the foreground until Ctrl+C."""
    parser = argparse.ArgumentParser(description="Caixa de e-mails local (SMTP + inbox HTTP).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--smtp-port", type=int, default=1025)
    parser.add_argument("--http-port", type=int, default=8025)
    parser.add_argument("--dir", type=Path, default=Path("var/mail"))
    args = parser.parse_args(argv)
    sink = MailSink(args.host, args.smtp_port, directory=args.dir, http_port=args.http_port)
    # SIGTERM (e.g. ``docker stop``) ends it like Ctrl+C: the SMTP server stops cleanly.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with sink:
        print(
            f"SMTP em {args.host}:{args.smtp_port}; caixa em http://{args.host}:{args.http_port}/",
            flush=True,
        )
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
