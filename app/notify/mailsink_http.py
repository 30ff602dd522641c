"""The read-only HTML inbox of the local mail sink (stdlib ``http.server`` in a thread)."""

from __future__ import annotations

import json
import re
import threading
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.notify.mailsink import CapturedMail, MailSink

__all__ = ["start_inbox"]

_LISTED = 200
_ROUTE = re.compile(r"^/mail/(\d+)(?:(\.html|\.eml)|/anexo/(\d+))?$")
_PAGE = (
    '<!DOCTYPE html><html lang="pt-BR"><head><meta charset="utf-8"><title>{title}</title>'
    "<style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:4px 8px;text-align:left}}"
    "pre{{white-space:pre-wrap;background:#f6f6f6;padding:1em}}</style></head>"
    "<body>{body}</body></html>"
)


def _page(title: str, body: str) -> bytes:
    return _PAGE.format(title=escape(title), body=body).encode()


def _inbox(mails: list[CapturedMail]) -> bytes:
    rows = "".join(
        f"<tr><td>{i}</td><td>{escape(', '.join(m.rcpt_tos))}</td>"
        f'<td><a href="/mail/{i}">{escape(m.subject or "(sem assunto)")}</a></td>'
        f"<td>{escape(m.header('Date') or '')}</td></tr>"
        for i, m in reversed(list(enumerate(mails, start=1))[-_LISTED:])
    )
    body = (
        f"<h1>Caixa de e-mails local</h1><p>{len(mails)} mensagem(ns); "
        f"as {_LISTED} mais recentes abaixo.</p>"
        f"<table><tr><th>#</th><th>Para</th><th>Assunto</th><th>Data</th></tr>{rows}</table>"
    )
    return _page("Caixa de e-mails local", body)


def _detail(index: int, mail: CapturedMail) -> bytes:
    attachments = "".join(
        f'<li><a href="/mail/{index}/anexo/{i}">{escape(a.filename)}</a> '
        f"({escape(a.mime)}, {len(a.content)} bytes)</li>"
        for i, a in enumerate(mail.attachments)
    )
    body = (
        f'<p><a href="/">&larr; caixa</a> · <a href="/mail/{index}.eml">.eml</a>'
        f' · <a href="/mail/{index}.html">versão HTML</a></p>'
        f"<h1>{escape(mail.subject)}</h1>"
        f"<p>De: {escape(mail.mail_from)}<br>Para: {escape(', '.join(mail.rcpt_tos))}</p>"
        f"<pre>{escape(mail.text)}</pre>"
        f"<h2>Anexos</h2><ul>{attachments or '<li>nenhum</li>'}</ul>"
    )
    return _page(mail.subject, body)


def _handler_for(sink: MailSink) -> type[BaseHTTPRequestHandler]:
    class InboxHandler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server naming)
            mails = sink.messages
            if self.path in ("/", "/index.html"):
                return self._reply(200, _inbox(mails), "text/html; charset=utf-8")
            if self.path == "/api/messages":
                data = [
                    {"to": m.rcpt_tos, "subject": m.subject, "message_id": m.header("Message-ID")}
                    for m in mails
                ]
                payload = json.dumps(data, ensure_ascii=False).encode()
                return self._reply(200, payload, "application/json")
            match = _ROUTE.match(self.path)
            if not match or not 1 <= int(match[1]) <= len(mails):
                return self._reply(404, _page("Não encontrado", "<h1>Não encontrado</h1>"))
            index = int(match[1])
            mail = mails[index - 1]
            if match[2] == ".eml":
                return self._reply(200, mail.raw, "message/rfc822")
            if match[2] == ".html":
                # The message HTML is untrusted: serve it sandboxed (no scripts, no same-origin).
                return self._reply(200, mail.html.encode(), "text/html; charset=utf-8", True)
            if match[3] is not None:
                attachments = mail.attachments
                position = int(match[3])
                if position >= len(attachments):
                    return self._reply(404, _page("Não encontrado", "<h1>Não encontrado</h1>"))
                return self._reply(200, attachments[position].content, attachments[position].mime)
            return self._reply(200, _detail(index, mail), "text/html; charset=utf-8")

        def _reply(
            self,
            status: int,
            body: bytes,
            content_type: str = "text/html; charset=utf-8",
            sandbox: bool = False,
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            if sandbox:
                self.send_header("Content-Security-Policy", "sandbox")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return InboxHandler


def start_inbox(sink: MailSink, host: str, port: int) -> ThreadingHTTPServer:
    """Serve the inbox of ``sink`` on host:port from a daemon thread; returns the server."""
    server = ThreadingHTTPServer((host, port), _handler_for(sink))
    server.daemon_threads = True
    threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},
        name="mailsink-http",
        daemon=True,
    ).start()
    return server
