"""SMTP sink for tests: the dev mail sink (app.notify.mailsink) plus test conveniences."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from app.notify.email import SmtpConfig
from app.notify.mailsink import CapturedMail, MailSink, free_port

__all__ = ["CapturedMail", "SmtpSink", "free_port"]


class SmtpSink(MailSink):
    """An aiosmtpd sink on 127.0.0.1 and a free port; ``down()``/``up()``/``reject()`` faults."""

    def smtp_config(self, **overrides: Any) -> SmtpConfig:
        """An SmtpConfig pointing at this sink (short timeout: it is local)."""
        config = SmtpConfig(
            host=self.host,
            port=self.port,
            sender_address="nao-responda@escritorio.example.com.br",
            sender_name="Escritório Contábil Exemplo",
            timeout=5.0,
        )
        return replace(config, **overrides)

    def to(self, address: str) -> list[CapturedMail]:
        """Captured messages whose envelope includes ``address``."""
        return [m for m in self.messages if address in m.rcpt_tos]
