"""Health (guide §9.1) and liveness; the only routes without a token.

Readiness and liveness probes arrive at a high rate from every load balancer and orchestrator, so
``GET`` of both paths is answered by :class:`ProbeShortcut` ahead of the framework's middleware,
routing and serialization (0.13 → ~0.05 ms of API CPU per request, docs/load.md); the routes
below stay for ``HEAD``, the OpenAPI document and in-process clients that skip middleware.
"""

from __future__ import annotations

import json
import time
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from app.health import check_all, is_ready

__all__ = ["ProbeShortcut", "router"]

router = APIRouter(tags=["saúde"])
_LIVE = b'{"status":"ok"}'
HEALTH, LIVE = "/api/health", "/api/live"


async def _health_body() -> tuple[int, dict[str, Any]]:
    body = await check_all()
    return (200 if is_ready(body) else 503), body


@router.get(HEALTH)
async def health() -> JSONResponse:
    """Readiness: 503 when the database or storage fails; 200 otherwise, with every component's
    state (``status`` ``degraded`` and ``failing`` naming Redis or the queue when they fail)."""
    status, body = await _health_body()
    return JSONResponse(body, status_code=status)


@router.get(LIVE, responses={200: {"content": {"application/json": {"example": {"status": "ok"}}}}})
async def live() -> Response:
    """Liveness: the process answers (checks nothing external; a constant body, no serializer)."""
    return Response(_LIVE, media_type="application/json")


class ProbeShortcut:
    """Pure ASGI middleware answering ``GET /api/live`` and ``GET /api/health`` itself (same
    bodies and statuses as the routes), observed in the latency histogram like any route."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("path")
        if scope["type"] != "http" or scope["method"] != "GET" or path not in (HEALTH, LIVE):
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        if path == LIVE:
            status, payload = 200, _LIVE
        else:
            status, body = await _health_body()
            payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})
        from app.monitoring.http import HTTP_LATENCY

        HTTP_LATENCY.labels("GET", path, str(status)).observe(time.perf_counter() - start)
