"""WhatsApp Business Cloud API channel (template messages over httpx).

Contract: Meta, "Cloud API — Send message templates"
(https://developers.facebook.com/docs/whatsapp/cloud-api/guides/send-message-templates):
``POST {base}/{phone_number_id}/messages`` with a bearer token; the answer carries
``messages[0].id`` (a ``wamid``). Business-initiated messages must be approved templates, so
every message is a template whose positional body parameters come from TEMPLATE_PARAMETERS.

Sandbox (homologação: "integrações em modo sandbox"): only allow-listed numbers reach the API.
Any other recipient is NOT an error: the send is logged and returns ``SendResult(sandboxed=True)``
so homologation flows run end to end without messaging real clients and without filling the
outbox with failures or retries.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from app.notify.base import (
    FALHA_PERMANENTE,
    FALHA_TEMPORARIA,
    LIMITE_DE_TAXA,
    ChannelError,
    Message,
    RateLimited,
    SendResult,
    channel_error,
)
from app.notify.phone import normalize_phone
from app.notify.ratelimit import TokenBucket
from app.notify.render import brl, competencia, data_br, prazo_dias_uteis
from app.notify.webhook import (
    StatusUpdate,
    parse_status_webhook,
    verify_subscription,
    verify_webhook_signature,
)
from app.notify.whatsapp_errors import CLOUD_API_ERRORS

__all__ = [
    "DEFAULT_BASE_URL",
    "TEMPLATE_PARAMETERS",
    "StatusUpdate",
    "WhatsAppChannel",
    "WhatsAppConfig",
    "build_payload",
    "parse_status_webhook",
    "verify_subscription",
    "verify_webhook_signature",
]

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://graph.facebook.com/v21.0"


def _text(value: Any) -> str:
    # Template text parameters may not contain newlines, tabs or more than 4 consecutive spaces
    # (Cloud API error 132018): collapse all whitespace.
    return " ".join(str(value).split())


def _items(value: Iterable[Any]) -> str:
    return "; ".join(_text(v) for v in value)


def _or_dash(value: Any) -> str:
    # A body parameter may not be empty (the Cloud API rejects the message): "—" for none.
    return _text(value or "") or "—"


def _date_or_dash(value: Any) -> str:
    return data_br(value) if value else "—"


Formatter = Callable[[Any], str]

# pedido_situacao and its variant with the first result file as the document header share
# their body parameters.
_ORDER_STATUS: tuple[tuple[str, Formatter], ...] = (
    ("nome", _text),
    ("pedido", _text),
    ("tipo", _text),
    ("empresa", _text),
    ("situacao", _text),
    ("resposta", _or_dash),
)

# Approved template name -> the context keys of its body parameters {{1}}, {{2}} …, in order.
# The templates are registered in the WhatsApp Manager with these names, language pt_BR.
TEMPLATE_PARAMETERS: Mapping[str, tuple[tuple[str, Formatter], ...]] = {
    "alerta_tarefa": (
        ("nome", _text),
        ("tarefa", _text),
        ("empresa", _text),
        ("competencia", competencia),
        ("dias_uteis", prazo_dias_uteis),
        ("vencimento", data_br),
    ),
    "lembrete_solicitacao": (
        ("nome", _text),
        ("empresa", _text),
        ("competencia", competencia),
        ("itens_faltantes", _items),
    ),
    "guia_disponivel": (
        ("nome", _text),
        ("imposto", _text),
        ("empresa", _text),
        ("competencia", competencia),
        ("vencimento", data_br),
        ("valor", brl),
    ),
    "falha_geracao_guia": (
        ("imposto", _text),
        ("empresa", _text),
        ("competencia", competencia),
        ("erro", _text),
    ),
    "solicitacao_mensal": (
        ("nome", _text),
        ("empresa", _text),
        ("competencia", competencia),
        ("itens", _items),
    ),
    # Client orders (app.orders.notify): acknowledgement with the SLA due date; status change
    # with the office's reply; the same with the first result file as the document header.
    "pedido_recebido": (
        ("nome", _text),
        ("pedido", _text),
        ("tipo", _text),
        ("empresa", _text),
        ("prazo", _date_or_dash),
    ),
    "pedido_situacao": _ORDER_STATUS,
    "pedido_situacao_documento": _ORDER_STATUS,
}


@dataclass(frozen=True, slots=True)
class WhatsAppConfig:
    """Cloud API access (WHATSAPP_API_KEY …), sandbox allow-list and client limits."""

    api_key: str = field(repr=False)
    phone_number_id: str
    base_url: str = DEFAULT_BASE_URL
    timeout: float = 10.0
    connect_timeout: float = 5.0
    language: str = "pt_BR"
    sandbox: bool = False
    allow_list: frozenset[str] = frozenset()
    rate_limit_wait: float = 2.0


def build_payload(message: Message, to: str, language: str = "pt_BR") -> dict[str, Any]:
    """The Cloud API request body for a template message (raises on unknown template/data).

    A link with a filename becomes the template's document header; other links fill the
    template's URL buttons in order, the parameter being the URL path after the host (the
    approved button URL is ``https://<portal>/{{1}}``).
    """
    spec = TEMPLATE_PARAMETERS.get(message.template)
    if spec is None:
        raise channel_error(
            FALHA_PERMANENTE, f"Modelo de WhatsApp inexistente: {message.template}."
        )
    try:
        body = [{"type": "text", "text": fmt(message.context[key])} for key, fmt in spec]
    except KeyError as exc:
        raise channel_error(
            FALHA_PERMANENTE, f"Dados incompletos para o modelo {message.template}: {exc}."
        ) from exc
    components: list[dict[str, Any]] = []
    documents = [link for link in message.links if link.filename]
    if documents:
        document = {"link": documents[0].url, "filename": documents[0].filename}
        components.append(
            {"type": "header", "parameters": [{"type": "document", "document": document}]}
        )
    components.append({"type": "body", "parameters": body})
    for index, link in enumerate(link for link in message.links if not link.filename):
        parts = urlsplit(link.url)
        suffix = parts.path.lstrip("/") + (f"?{parts.query}" if parts.query else "")
        components.append(
            {
                "type": "button",
                "sub_type": "url",
                "index": str(index),
                "parameters": [{"type": "text", "text": suffix}],
            }
        )
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "template",
        # Echoed back in status webhooks, so a status can be matched to our notification.
        "biz_opaque_callback_data": message.idempotency_key,
        "template": {
            "name": message.template,
            "language": {"code": language},
            "components": components,
        },
    }


def _retry_after(response: httpx.Response, default: float) -> float:
    value = response.headers.get("Retry-After")
    if not value:
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return default


def _error_from_response(response: httpx.Response) -> ChannelError:
    """Map an error answer to a ChannelError: Cloud API code first, then the HTTP status."""
    try:
        error = response.json().get("error") or {}
    except (ValueError, AttributeError):
        error = {}
    api_code = error.get("code") if isinstance(error, dict) else None
    details: dict[str, Any] = {
        "http_status": response.status_code,
        "api_code": api_code,
        "api_subcode": error.get("error_subcode") if isinstance(error, dict) else None,
        "api_message": error.get("message") if isinstance(error, dict) else None,
    }
    rule = CLOUD_API_ERRORS.get(api_code) if isinstance(api_code, int) else None
    if rule is None:
        if response.status_code == 429:
            code = LIMITE_DE_TAXA
        elif response.status_code >= 500:
            code = FALHA_TEMPORARIA
        else:
            code = FALHA_PERMANENTE
        default_wait = 1.0
    else:
        code, default_wait = rule.code, rule.retry_after or 1.0
    if code == LIMITE_DE_TAXA or response.status_code == 429:
        return RateLimited(retry_after=_retry_after(response, default_wait), **details)
    return channel_error(code, **details)


class WhatsAppChannel:
    """The WhatsApp Channel; holds one ``httpx.Client`` (close it, or use ``with``)."""

    def __init__(
        self,
        config: WhatsAppConfig,
        *,
        limiter: TokenBucket | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.config = config
        self._limiter = limiter
        self._allowed = frozenset(normalize_phone(n) for n in config.allow_list)
        self._client = httpx.Client(
            base_url=config.base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {config.api_key}"},
            timeout=httpx.Timeout(config.timeout, connect=config.connect_timeout),
            transport=transport,
        )

    def send(self, message: Message) -> SendResult:
        """Send one template message; raises ChannelError (RateLimited for throttling)."""
        to = normalize_phone(message.to)
        payload = build_payload(message, to, self.config.language)
        if self.config.sandbox and to not in self._allowed:
            log.info(
                "WhatsApp sandbox: %s para %s não enviado (fora da lista permitida)",
                message.template,
                to,
            )
            digest = hashlib.sha256(message.idempotency_key.encode()).hexdigest()[:24]
            return SendResult(provider_id=f"sandbox.{digest}", sandboxed=True)
        if self._limiter is not None and not self._limiter.acquire(
            timeout=self.config.rate_limit_wait
        ):
            raise RateLimited(retry_after=max(self._limiter.last_wait, 0.001), local=True)
        try:
            response = self._client.post(f"/{self.config.phone_number_id}/messages", json=payload)
        except httpx.TransportError as exc:  # connect/read timeouts, refused, protocol errors
            raise channel_error(FALHA_TEMPORARIA, f"({type(exc).__name__})") from exc
        if response.is_success:
            try:
                provider_id = str(response.json()["messages"][0]["id"])
            except (ValueError, KeyError, IndexError, TypeError) as exc:
                raise channel_error(FALHA_TEMPORARIA, "Resposta inesperada da API.") from exc
            return SendResult(provider_id=provider_id)
        raise _error_from_response(response)

    def close(self) -> None:
        """Close the HTTP client and its connection pool."""
        self._client.close()

    def __enter__(self) -> WhatsAppChannel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
