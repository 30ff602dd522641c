"""The thin API: authenticates, validates, records, stores files, triggers deployments.

It never runs flow code in-process; errors of the one exception tree become JSON with a stable
code in one handler, and anything unexpected is a logged 500 with no internals leaked.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.api.routes import companies, files, health
from app.api.routes import documents as documents_routes
from app.api.routes import empresas_admin as empresas_admin_routes
from app.api.routes import guides as guides_routes
from app.api.routes import notifications as notifications_routes
from app.api.routes import office as office_routes
from app.api.routes import revenue as revenue_routes
from app.api.routes import solicitacoes as solicitacoes_routes
from app.api.routes import tarefas as tarefas_routes
from app.api.routes import uploads as uploads_routes
from app.errors import AppError
from app.settings import get_settings

log = logging.getLogger("contab.api")


def create_app() -> FastAPI:
    """Build the FastAPI application (settings are validated here: unsafe production fails)."""
    settings = get_settings()
    from app.services.protocol import install_status_hook

    install_status_hook()  # webhook statuses move the guide delivery protocol
    app = FastAPI(
        title="contab API",
        version=settings.APP_VERSION,
        description="API do escritório contábil: uploads, tarefas, guias e saúde da plataforma.",
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
        redoc_url=None,
    )

    @app.exception_handler(AppError)
    async def _app_error(_: Request, exc: AppError) -> JSONResponse:
        status = exc.http_status
        if status >= 500:
            log.warning("integration error %s: %s", exc.code, exc.message)
        return JSONResponse({"error": exc.to_dict()}, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"campo": ".".join(str(p) for p in e.get("loc", ())), "mensagem": e.get("msg")}
            for e in exc.errors()
        ]
        return JSONResponse(
            {
                "error": {
                    "code": "requisicao_invalida",
                    "message": "Requisição inválida.",
                    "details": {"erros": errors},
                }
            },
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "rota_nao_encontrada", 405: "metodo_nao_permitido"}.get(
            exc.status_code, "erro_http"
        )
        return JSONResponse(
            {"error": {"code": code, "message": str(exc.detail)}}, status_code=exc.status_code
        )

    @app.exception_handler(DataError)
    async def _data_error(_: Request, exc: DataError) -> JSONResponse:
        # e.g. an id beyond bigint or a value that overflows a column: the caller's input
        return JSONResponse(
            {
                "error": {
                    "code": "entrada_invalida",
                    "message": "Valor fora do intervalo aceito (identificador ou campo grande).",
                }
            },
            status_code=422,
        )

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return JSONResponse(
            {"error": {"code": "erro_interno", "message": "Erro interno; a equipe foi avisada."}},
            status_code=500,
        )

    app.include_router(health.router)
    app.include_router(files.router)
    app.include_router(companies.router)
    app.include_router(uploads_routes.router)
    app.include_router(documents_routes.router)
    app.include_router(notifications_routes.router)
    app.include_router(guides_routes.router)
    app.include_router(revenue_routes.router)
    app.include_router(office_routes.router)
    for r in (empresas_admin_routes.router, tarefas_routes.router, solicitacoes_routes.router):
        app.include_router(r)
    return app


def __getattr__(name: str) -> FastAPI:
    # `uvicorn app.api.main:app` builds the app on first access, never at import time.
    if name == "app":
        return create_app()
    raise AttributeError(name)
