"""The API's latency histogram, per route template, method and status, as a pure ASGI
middleware (no BaseHTTPMiddleware: no extra task nor body copy per request).

The route label is the matched template (``/api/empresas/{empresa_id}``), never the raw path, so
the series are bounded by the routes the app declares; unmatched paths share one label. Every
response carries the ``X-Request-ID`` the logs of that request carry (the caller's, when it sent
a sane one).
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from prometheus_client import CollectorRegistry, Histogram

from app.monitoring.context import REQUEST_ID

__all__ = ["HTTP_LATENCY", "REGISTRY", "MetricsMiddleware"]

REGISTRY = CollectorRegistry(auto_describe=True)
HTTP_LATENCY = Histogram(
    "contab_http_request_duration_seconds",
    "Duração das requisições da API por rota (modelo), método e status.",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0),
    registry=REGISTRY,
)
_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
_SANE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
UNMATCHED = "(sem rota)"


def route_template(scope: Any) -> str:
    """The matched route's full template: FastAPI ≥ 0.150 keeps an included router's routes
    unprefixed and records the effective (prefixed) one in ``scope["fastapi"]``."""
    ctx = (scope.get("fastapi") or {}).get("effective_route_context")
    path = getattr(ctx, "path_format", None) or getattr(scope.get("route"), "path", None)
    return str(path) if path else UNMATCHED


class MetricsMiddleware:
    """Observe every HTTP request's duration; tag it with a request id."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        given = next((v for k, v in scope["headers"] if k == b"x-request-id"), b"").decode(
            "latin-1"
        )
        rid = given if _SANE_ID.match(given) else uuid.uuid4().hex
        token = REQUEST_ID.set(rid)
        status = 500  # an exception before the response started is a server error

        async def _send(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {
                    **message,
                    "headers": [*message.get("headers", []), (b"x-request-id", rid.encode())],
                }
            await send(message)

        try:
            await self.app(scope, receive, _send)
        finally:
            route = route_template(scope)
            method = scope["method"] if scope["method"] in _METHODS else "OTHER"
            HTTP_LATENCY.labels(method, route, str(status)).observe(time.perf_counter() - start)
            REQUEST_ID.reset(token)
