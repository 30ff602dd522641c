"""The thin API: authenticates, validates, records, stores files, triggers deployments.

It never runs flow code in-process; errors of the one exception tree become JSON with a stable
code in one handler, and anything unexpected is a logged 500 with no internals leaked.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from app.api.router import include_routes
from app.api.schemas import DATE_ERROR, ERROR_RESPONSES
from app.errors import AppError
from app.settings import get_settings

log = logging.getLogger("contab.api")
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
# Framework-level HTTP errors (routing, body parsing) with a stable code and a pt-BR message.
HTTP_ERRORS: dict[int, tuple[str, str]] = {
    400: ("corpo_invalido", "Corpo da requisição ilegível (JSON ou multipart malformado)."),
    404: ("rota_nao_encontrada", "Rota não encontrada."),
    405: ("metodo_nao_permitido", "Método não permitido nesta rota."),
}


def _field(error: Any) -> str:
    """The parameter or body field an error is about (``vencimento_de``, ``body.data``)."""
    loc = [str(p) for p in error.get("loc", ())]
    return ".".join(loc[1:] if len(loc) > 1 and loc[0] in {"query", "path", "body"} else loc)


def _allowed(request: Request) -> list[str]:
    """Every method some route answers on this path (routes of one path may be separate)."""
    routes = request.app.router.routes
    return [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    ]


@asynccontextmanager
async def _with_dispatcher(_: FastAPI) -> AsyncIterator[None]:
    """The served API also runs the upload dispatcher (a daemon thread; see app.api.dispatcher)."""
    from app.api.dispatcher import start_thread

    stop = start_thread()
    try:
        yield
    finally:
        stop.set()


def create_app(dispatcher: bool = False) -> FastAPI:
    """Build the FastAPI application (settings are validated here: unsafe production fails).

    ``dispatcher``: also run the upload dispatcher in this process (the served app does;
    in-process test clients do not)."""
    settings = get_settings()
    from app.monitoring.errors import init_sentry

    init_sentry("api")  # before the app exists: the SDK instruments FastAPI/Starlette classes
    app = FastAPI(
        title="contab API",
        version=settings.APP_VERSION,
        description="API do escritório contábil: uploads, tarefas, guias e saúde da plataforma.",
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
        redoc_url=None,
        responses=ERROR_RESPONSES,
        lifespan=_with_dispatcher if dispatcher else None,
    )

    @app.exception_handler(AppError)
    async def _app_error(_: Request, exc: AppError) -> JSONResponse:
        status = exc.http_status
        if status >= 500:
            log.warning("integration error %s: %s", exc.code, exc.message)
        return JSONResponse({"erro": exc.to_dict()}, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        raw = list(exc.errors())
        errors = [
            {"campo": ".".join(str(p) for p in e.get("loc", ())), "mensagem": e.get("msg")}
            for e in raw
        ]
        code, message = "requisicao_invalida", "Requisição inválida."
        if raw and all(e.get("type") == DATE_ERROR for e in raw):
            # Only bad dates: their own code, and a message naming each parameter.
            code = DATE_ERROR
            message = " ".join(
                f"Data inválida em {_field(e)}: use o formato {e.get('ctx', {}).get('formato')}."
                for e in raw
            )
        return JSONResponse(
            {"erro": {"codigo": code, "mensagem": message, "detalhes": {"erros": errors}}},
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code, message = HTTP_ERRORS.get(exc.status_code, ("erro_http", str(exc.detail)))
        headers = exc.headers
        if exc.status_code == 405:  # Starlette names only the first route's methods
            headers = {**(headers or {}), "Allow": ", ".join(_allowed(request))}
        return JSONResponse(
            {"erro": {"codigo": code, "mensagem": message}},
            status_code=exc.status_code,
            headers=headers,
        )

    @app.exception_handler(DataError)
    async def _data_error(_: Request, exc: DataError) -> JSONResponse:
        # The caller's input: a NUL character (PostgreSQL text never holds one), an id beyond
        # bigint or a value that overflows a column.
        # psycopg refuses NUL in text ("cannot contain NUL"); PostgreSQL refuses it inside
        # json ("unsupported Unicode escape sequence": \u0000 cannot be converted to text).
        if any(m in str(exc.orig) for m in ("NUL", "Unicode escape", "\\u0000")):
            code, message = "caractere_invalido", "O texto contém um caractere nulo (\\u0000)."
        else:
            code = "entrada_invalida"
            message = "Valor fora do intervalo aceito (identificador ou campo grande)."
        return JSONResponse({"erro": {"codigo": code, "mensagem": message}}, status_code=422)

    @app.exception_handler(IntegrityError)
    async def _integrity(_: Request, exc: IntegrityError) -> JSONResponse:
        # A rule the database enforces that a route did not check first (a bug to fix there,
        # but the caller's data is refused, not a server failure): the constraint goes to the
        # log, never the values.
        diag = getattr(exc.orig, "diag", None)
        log.warning("integrity error: %s", getattr(diag, "constraint_name", None) or "?")
        return JSONResponse(
            {
                "erro": {
                    "codigo": "conflito_de_dados",
                    "mensagem": "Os dados violam uma regra de integridade (referência inexistente, "
                    "valor obrigatório ausente ou registro duplicado).",
                }
            },
            status_code=409,
        )

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return JSONResponse(
            {"erro": {"codigo": "erro_interno", "mensagem": "Erro interno; a equipe foi avisada."}},
            status_code=500,
        )

    include_routes(app)
    from app.monitoring.exporter import MetricsEndpoint
    from app.monitoring.http import MetricsMiddleware

    # /metrics: not under the API token router; its own token or address allow-list
    app.add_route("/metrics", MetricsEndpoint(), include_in_schema=False)  # type: ignore[arg-type]
    app.add_middleware(MetricsMiddleware)
    from app.api.routes.health import ProbeShortcut

    app.add_middleware(ProbeShortcut)  # added last: outside the others (see its module)
    return app


def __getattr__(name: str) -> FastAPI:
    # `uvicorn app.api.main:app` builds the app on first access, never at import time.
    if name == "app":
        from app.monitoring.logs import configure_logging

        configure_logging("api")  # JSON lines, LOG_CHANNEL (console, Loki, files)
        served = create_app(dispatcher=True)
        # Start-up left ~230,000 container objects (FastAPI, pydantic, SQLAlchemy, our models)
        # that every full collection walked again: ~0.1–0.4 s of CPU each, a latency spike for
        # whatever request triggered it. They live as long as the process: move them out of
        # the collector's sight (the standard gc.freeze() after imports).
        gc.collect()
        gc.freeze()
        return served
    raise AttributeError(name)
