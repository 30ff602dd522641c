"""What every notification channel shares: the message, the result, the protocol, the errors.

A channel delivers one rendered :class:`Message` and returns a :class:`SendResult`, or raises
:class:`~app.errors.ChannelError` whose ``code`` is one of the stable codes below and whose
``permanent`` flag tells the caller to stop (``True``) or to retry later (``False``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple, Protocol

from app.errors import ChannelError

__all__ = [
    "CHANNEL_ERROR_MESSAGES",
    "FALHA_PERMANENTE",
    "FALHA_TEMPORARIA",
    "FORA_DA_LISTA_SANDBOX",
    "DESTINATARIO_INVALIDO",
    "LIMITE_DE_TAXA",
    "OPT_OUT",
    "Attachment",
    "Channel",
    "ChannelError",
    "ChannelName",
    "Link",
    "Message",
    "RateLimited",
    "SendResult",
    "channel_error",
]

ChannelName = Literal["email", "whatsapp"]

# Stable error codes: the outbox, the API and the operators' dashboards key on these strings.
DESTINATARIO_INVALIDO = "destinatario_invalido"
OPT_OUT = "opt_out"
LIMITE_DE_TAXA = "limite_de_taxa"
FALHA_TEMPORARIA = "falha_temporaria"
FALHA_PERMANENTE = "falha_permanente"
FORA_DA_LISTA_SANDBOX = "fora_da_lista_sandbox"

# code -> (permanent, pt-BR message an operator sees)
CHANNEL_ERROR_MESSAGES: Mapping[str, tuple[bool, str]] = {
    DESTINATARIO_INVALIDO: (True, "Destinatário inválido ou inexistente."),
    OPT_OUT: (True, "O destinatário optou por não receber mensagens."),
    LIMITE_DE_TAXA: (False, "Limite de envio atingido; tente novamente mais tarde."),
    FALHA_TEMPORARIA: (False, "Falha temporária no canal de envio; será tentado novamente."),
    FALHA_PERMANENTE: (True, "O canal recusou a mensagem de forma definitiva."),
    FORA_DA_LISTA_SANDBOX: (True, "Destinatário fora da lista permitida no modo sandbox."),
}


class Attachment(NamedTuple):
    """A file sent with an e-mail (WhatsApp sends files as links instead)."""

    filename: str
    content: bytes
    mime: str = "application/octet-stream"


@dataclass(frozen=True, slots=True)
class Link:
    """A URL offered to the recipient; with ``filename`` it is a document (e.g. a guide PDF)."""

    url: str
    label: str = ""
    filename: str | None = None


@dataclass(frozen=True, slots=True)
class Message:
    """One notification to one recipient, rendered from a pt-BR template by the channel."""

    channel: ChannelName
    to: str
    template: str
    idempotency_key: str
    context: Mapping[str, Any] = field(default_factory=dict)
    subject: str = ""
    attachments: tuple[Attachment, ...] = ()
    links: tuple[Link, ...] = ()


@dataclass(frozen=True, slots=True)
class SendResult:
    """What the provider answered: its message id and when we got the acceptance."""

    provider_id: str
    accepted_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    sandboxed: bool = False


class Channel(Protocol):
    """A delivery channel (SMTP e-mail, WhatsApp Cloud API)."""

    def send(self, message: Message) -> SendResult:
        """Deliver one message or raise ChannelError."""
        ...


class RateLimited(ChannelError):
    """Transient ``limite_de_taxa``: retry no sooner than ``retry_after`` seconds."""

    def __init__(self, message: str | None = None, *, retry_after: float, **details: Any) -> None:
        super().__init__(
            message or CHANNEL_ERROR_MESSAGES[LIMITE_DE_TAXA][1],
            permanent=False,
            code=LIMITE_DE_TAXA,
            retry_after=retry_after,
            **details,
        )
        self.retry_after = retry_after


def channel_error(code: str, detail: str = "", **details: Any) -> ChannelError:
    """Build the ChannelError for a stable code; permanence comes from the code table."""
    permanent, text = CHANNEL_ERROR_MESSAGES[code]
    message = f"{text} {detail}".strip()
    return ChannelError(message, permanent=permanent, code=code, **details)
