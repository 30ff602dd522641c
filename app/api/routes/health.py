"""Health (guide §9.1) and liveness; the only routes without a token."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from app.health import check_all

router = APIRouter(tags=["saúde"])


@router.get("/api/health")
async def health() -> JSONResponse:
    """200 when every component is ok; 503 naming the failing ones otherwise."""
    body = await check_all()
    return JSONResponse(body, status_code=200 if body["status"] == "ok" else 503)


@router.get("/api/live")
async def live() -> dict[str, str]:
    """Liveness: the process answers (checks nothing external)."""
    return {"status": "ok"}
