"""WhatsApp Cloud API webhooks: subscription handshake, signature check, status updates.

Contract: Meta, "Webhooks — Getting started / Verification Requests / Event Notifications"
(https://developers.facebook.com/docs/graph-api/webhooks/getting-started) and the WhatsApp
"messages" webhook reference for the ``statuses`` object.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app.errors import InvalidInput

__all__ = [
    "SIGNATURE_HEADER",
    "StatusError",
    "StatusUpdate",
    "parse_status_webhook",
    "sign_webhook",
    "verify_subscription",
    "verify_webhook_signature",
]

SIGNATURE_HEADER = "X-Hub-Signature-256"
_PREFIX = "sha256="


def sign_webhook(app_secret: str, body: bytes) -> str:
    """The X-Hub-Signature-256 value Meta sends: ``sha256=`` + HMAC-SHA256(app secret, body)."""
    return _PREFIX + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def verify_webhook_signature(app_secret: str, body: bytes, header_value: str | None) -> bool:
    """True when the header signs exactly these raw bytes (constant-time compare)."""
    if not app_secret or not header_value or not header_value.startswith(_PREFIX):
        return False
    # bytes: compare_digest raises TypeError on non-ASCII str (a forged header must be a 401)
    return hmac.compare_digest(
        sign_webhook(app_secret, body).encode(), header_value.strip().encode("utf-8", "replace")
    )


def verify_subscription(params: Mapping[str, str], verify_token: str) -> str | None:
    """GET handshake: return ``hub.challenge`` to echo back, or None (answer 403)."""
    if (
        verify_token
        and params.get("hub.mode") == "subscribe"
        and hmac.compare_digest(
            params.get("hub.verify_token", "").encode("utf-8", "replace"), verify_token.encode()
        )
    ):
        return params.get("hub.challenge")
    return None


@dataclass(frozen=True, slots=True)
class StatusError:
    """One error attached to a ``failed`` status."""

    code: int
    title: str
    message: str = ""
    details: str = ""


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """A delivery status for a message we sent (sent, delivered, read, failed …)."""

    provider_id: str
    status: str
    timestamp: datetime
    recipient_id: str
    errors: tuple[StatusError, ...] = ()
    idempotency_key: str | None = None
    phone_number_id: str | None = None


def _error(raw: Mapping[str, Any]) -> StatusError:
    data = raw.get("error_data") or {}
    return StatusError(
        code=int(raw.get("code", 0)),
        title=str(raw.get("title", "")),
        message=str(raw.get("message", "")),
        details=str(data.get("details", "")) if isinstance(data, Mapping) else "",
    )


def parse_status_webhook(payload: Mapping[str, Any]) -> list[StatusUpdate]:
    """Every status in ``entry[].changes[].value.statuses[]``; other events are ignored."""
    updates: list[StatusUpdate] = []
    try:
        for entry in payload.get("entry", []):
            for change in entry.get("changes", []):
                value = change.get("value") or {}
                phone_number_id = (value.get("metadata") or {}).get("phone_number_id")
                for status in value.get("statuses", []):
                    updates.append(
                        StatusUpdate(
                            provider_id=str(status["id"]),
                            status=str(status["status"]),
                            timestamp=datetime.fromtimestamp(int(status["timestamp"]), tz=UTC),
                            recipient_id=str(status.get("recipient_id", "")),
                            errors=tuple(_error(e) for e in status.get("errors", [])),
                            idempotency_key=status.get("biz_opaque_callback_data"),
                            phone_number_id=phone_number_id,
                        )
                    )
    except (AttributeError, KeyError, TypeError, ValueError, OverflowError) as exc:
        # OverflowError: a timestamp beyond the platform's time_t (1e20, 1e300 …)
        raise InvalidInput(
            "Notificação de status do WhatsApp em formato inesperado.", reason=repr(exc)
        ) from exc
    return updates
