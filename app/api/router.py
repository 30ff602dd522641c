"""The routes of the API, in two routers: authenticated by default, and the explicit public ones.

Every module added to ``api_router`` answers 401 without a valid bearer token: authentication
is a dependency of the router, not something a handler must remember. The public router holds
only what authenticates itself another way — signed, expiring links and the signature-verified
WhatsApp webhook — and health/liveness (``routes/health.py``), which check nothing private.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI

from app.api.deps import authenticated
from app.api.routes import (
    document_requests,
    documents,
    empresas,
    files,
    guides,
    health,
    holidays,
    ledger,
    notifications,
    obligations,
    office,
    orders,
    tarefas,
    tokens,
    uploads,
    whatsapp,
)

__all__ = ["api_router", "include_routes", "public_router"]

PREFIX = "/api"

api_router = APIRouter(prefix=PREFIX, dependencies=[Depends(authenticated)])
for _module in (
    empresas,
    uploads,
    documents,
    notifications,
    guides,
    ledger,
    office,
    tarefas,
    document_requests,
    holidays,
    obligations,
    tokens,
    orders,
):
    api_router.include_router(_module.router)

public_router = APIRouter(prefix=PREFIX)
public_router.include_router(files.router)
public_router.include_router(whatsapp.router)


def include_routes(app: FastAPI) -> None:
    """Mount every route on ``app`` (public ones first: ``/api/guias/abrir/{token}`` must not be
    taken for a guide id of the authenticated routes)."""
    app.include_router(health.router)  # its paths carry the /api prefix themselves
    app.include_router(public_router)
    app.include_router(api_router)
