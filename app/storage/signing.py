"""HMAC-signed, expiring download tokens (local-disk backend and tracked guide links).

A token is ``base64url(payload).base64url(hmac_sha256(APP_KEY, payload))`` where the payload is
compact JSON ``{"k": key, "e": expires_epoch, ...extra}``. Tampering with any byte, or using it
after ``e``, is refused with a stable code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

from app.errors import PermissionDenied

__all__ = ["sign", "verify"]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(
    secret: str,
    key: str,
    *,
    expires_in: int,
    now: float | None = None,
    extra: dict[str, Any] | None = None,
) -> str:
    """Token granting access to key for expires_in seconds."""
    if not secret:
        raise ValueError("APP_KEY is required to sign URLs")
    exp = int((now if now is not None else time.time()) + expires_in)
    payload = json.dumps({"k": key, "e": exp, **(extra or {})}, separators=(",", ":")).encode()
    mac = hmac.new(secret.encode(), payload, hashlib.sha256).digest()
    return f"{_b64(payload)}.{_b64(mac)}"


def verify(secret: str, token: str, *, now: float | None = None) -> dict[str, Any]:
    """Payload of a valid, unexpired token; PermissionDenied otherwise."""
    try:
        p64, m64 = token.split(".", 1)
        payload = _unb64(p64)
        mac = _unb64(m64)
    except (ValueError, TypeError) as exc:
        raise PermissionDenied("Link inválido.", code="link_invalido") from exc
    expected = hmac.new(secret.encode(), payload, hashlib.sha256).digest()
    if not hmac.compare_digest(mac, expected):
        raise PermissionDenied("Link inválido ou adulterado.", code="link_invalido")
    data: dict[str, Any] = json.loads(payload)
    if (now if now is not None else time.time()) > data["e"]:
        raise PermissionDenied("Link expirado.", code="link_expirado")
    return data
