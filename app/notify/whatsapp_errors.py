"""WhatsApp Cloud API error codes mapped to our stable channel error codes.

Source: Meta, "WhatsApp Cloud API — Error codes"
(https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes) and the Graph API
"Handling errors" page for the generic codes 1, 2, 4, 100, 190. Codes not listed fall back on the
HTTP status: 429 → rate limited, 5xx → transient, other 4xx → permanent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from app.notify.base import (
    DESTINATARIO_INVALIDO,
    FALHA_PERMANENTE,
    FALHA_TEMPORARIA,
    LIMITE_DE_TAXA,
    OPT_OUT,
)

__all__ = ["CLOUD_API_ERRORS", "ErrorRule"]


@dataclass(frozen=True, slots=True)
class ErrorRule:
    """What a Cloud API error code means for us; ``retry_after`` is a default wait (seconds)."""

    code: str
    retry_after: float | None = None


CLOUD_API_ERRORS: Mapping[int, ErrorRule] = {
    # Generic Graph API
    1: ErrorRule(FALHA_TEMPORARIA),  # API Unknown
    2: ErrorRule(FALHA_TEMPORARIA),  # API Service (temporary downtime)
    # Token invalid/expired: the message is fine, the credentials are not; retrying after the
    # operator rotates WHATSAPP_API_KEY succeeds, so not a permanent failure of the message.
    190: ErrorRule(FALHA_TEMPORARIA),
    100: ErrorRule(FALHA_PERMANENTE),  # Invalid parameter
    # Throttling
    4: ErrorRule(LIMITE_DE_TAXA, 60.0),  # API Too Many Calls (app-level)
    80007: ErrorRule(LIMITE_DE_TAXA, 60.0),  # WABA rate limit
    130429: ErrorRule(LIMITE_DE_TAXA, 1.0),  # Cloud API throughput reached
    131048: ErrorRule(LIMITE_DE_TAXA, 60.0),  # Spam rate limit hit
    131056: ErrorRule(LIMITE_DE_TAXA, 6.0),  # Pair rate limit (same recipient too often)
    # Generic WhatsApp failures, documented as retryable
    131000: ErrorRule(FALHA_TEMPORARIA),  # Something went wrong
    131016: ErrorRule(FALHA_TEMPORARIA),  # Service unavailable
    131057: ErrorRule(FALHA_TEMPORARIA),  # Account in maintenance mode
    # Recipient problems
    131026: ErrorRule(DESTINATARIO_INVALIDO),  # Undeliverable (not a WhatsApp user, old app …)
    131021: ErrorRule(DESTINATARIO_INVALIDO),  # Recipient cannot be sender
    133010: ErrorRule(DESTINATARIO_INVALIDO),  # Phone number not registered
    131050: ErrorRule(OPT_OUT),  # User stopped marketing messages from this business
    # Message / template problems: retrying the same request cannot succeed
    131008: ErrorRule(FALHA_PERMANENTE),  # Required parameter missing
    131009: ErrorRule(FALHA_PERMANENTE),  # Parameter value not valid
    131047: ErrorRule(FALHA_PERMANENTE),  # Re-engagement: outside the 24 h window
    131051: ErrorRule(FALHA_PERMANENTE),  # Unsupported message type
    131052: ErrorRule(FALHA_PERMANENTE),  # Media download error (link unreachable)
    132000: ErrorRule(FALHA_PERMANENTE),  # Template parameter count mismatch
    132001: ErrorRule(FALHA_PERMANENTE),  # Template does not exist (name/language)
    132005: ErrorRule(FALHA_PERMANENTE),  # Translated text too long
    132007: ErrorRule(FALHA_PERMANENTE),  # Template format character policy violated
    132012: ErrorRule(FALHA_PERMANENTE),  # Template parameter format mismatch
    132015: ErrorRule(FALHA_PERMANENTE),  # Template paused (low quality)
    132016: ErrorRule(FALHA_PERMANENTE),  # Template disabled
    368: ErrorRule(FALHA_PERMANENTE),  # Temporarily blocked for policy violations
    131031: ErrorRule(FALHA_PERMANENTE),  # Business account locked
}
