"""Health (guide §9.1) and liveness; the only routes without a token."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from app.health import check_all, is_ready

router = APIRouter(tags=["saúde"])
_LIVE = b'{"status":"ok"}'


@router.get("/api/health")
async def health() -> JSONResponse:
    """Readiness: 503 when the database or storage fails; 200 otherwise, with every component's
    state (``status`` ``degraded`` and ``failing`` naming Redis or the queue when they fail)."""
    body = await check_all()
    return JSONResponse(body, status_code=200 if is_ready(body) else 503)


@router.get(
    "/api/live", responses={200: {"content": {"application/json": {"example": {"status": "ok"}}}}}
)
async def live() -> Response:
    """Liveness: the process answers (checks nothing external; a constant body, no serializer)."""
    return Response(_LIVE, media_type="application/json")
