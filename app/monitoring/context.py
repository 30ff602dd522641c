"""Per-request and per-run context every log line and error event carries."""

from __future__ import annotations

from contextvars import ContextVar

__all__ = ["REQUEST_ID"]

# Set by the HTTP middleware for the duration of one request (the X-Request-ID it answers).
REQUEST_ID: ContextVar[str | None] = ContextVar("contab_request_id", default=None)
