"""The one exception tree of contab.

    AppError                      base; carries a stable ``code`` and a pt-BR ``message``
    ├── DomainError               the request or the data breaks a business rule (not retryable)
    │   ├── InvalidInput          malformed / oversized / malicious input
    │   ├── InvalidDocument       a fiscal document that fails parsing or validation
    │   ├── NotFound
    │   ├── Conflict              a unique rule or a state transition forbids it
    │   ├── PermissionDenied      authenticated, but not allowed (wrong empresa scope)
    │   └── Unauthenticated       no or bad credentials
    ├── ConfigError               unsafe or incomplete configuration (lists every problem)
    └── IntegrationError          an external system failed (usually retryable)
        ├── StorageError
        ├── ChannelError          e-mail / WhatsApp delivery; ``permanent`` says retry or stop
        └── UpstreamError         any other dependency (Prefect API, government services)

Adapters translate library errors with ``raise ... from exc``. The API maps the tree to HTTP in
one handler (``app.api.main``); tasks let errors propagate so Prefect records and retries them.
"""

from __future__ import annotations

from typing import Any, NamedTuple

__all__ = [
    "AppError",
    "ChannelError",
    "ConfigError",
    "Conflict",
    "DomainError",
    "FILE_TOO_LARGE",
    "IntegrationError",
    "InvalidDocument",
    "InvalidInput",
    "MISSING_DOCUMENTO",
    "MISSING_EMPRESA",
    "MISSING_GUIA",
    "MISSING_NOTIFICACAO",
    "MISSING_SOLICITACAO",
    "MISSING_TAREFA",
    "MISSING_UPLOAD",
    "Missing",
    "NotFound",
    "PermissionDenied",
    "StorageError",
    "Unauthenticated",
    "UpstreamError",
    "file_too_large",
]


class AppError(Exception):
    """Base of every error contab raises on purpose."""

    code: str = "erro_interno"
    http_status: int = 500
    retryable: bool = False

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        """Serialisable form used by the API and by quarantine records."""
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            out["details"] = self.details
        return out


class DomainError(AppError):
    code = "regra_violada"
    http_status = 422


class InvalidInput(DomainError):
    code = "entrada_invalida"
    http_status = 422


class InvalidDocument(DomainError):
    code = "documento_invalido"
    http_status = 422


class NotFound(DomainError):
    code = "nao_encontrado"
    http_status = 404


class Missing(NamedTuple):
    """The 404 of one kind of object: the message and code every lookup of that kind answers
    with when an id does not exist — and the API when a client token asks for another
    empresa's object (no existence oracle, ``app.api.scope``)."""

    message: str
    code: str

    def error(self) -> NotFound:
        """A fresh NotFound of this kind."""
        return NotFound(self.message, code=self.code)


MISSING_EMPRESA = Missing("Empresa não encontrada.", "empresa_nao_encontrada")
MISSING_DOCUMENTO = Missing("Documento não encontrado.", "documento_nao_encontrado")
MISSING_UPLOAD = Missing("Envio não encontrado.", "upload_nao_encontrado")
MISSING_GUIA = Missing("Guia não encontrada.", "guia_nao_encontrada")
MISSING_TAREFA = Missing("Tarefa não encontrada.", "tarefa_nao_encontrada")
MISSING_SOLICITACAO = Missing("Solicitação não encontrada.", "solicitacao_nao_encontrada")
MISSING_NOTIFICACAO = Missing("Notificação não encontrada.", "notificacao_nao_encontrada")


FILE_TOO_LARGE = "arquivo_muito_grande"
"""The one code of a file above the size limit (API answers and quarantined upload files)."""


def file_too_large(limit: int) -> InvalidInput:
    """The error of a file larger than ``limit`` bytes."""
    return InvalidInput(
        f"Arquivo maior que o limite de {limit // 1024} KiB.", code=FILE_TOO_LARGE, limite=limit
    )


class Conflict(DomainError):
    code = "conflito"
    http_status = 409


class PermissionDenied(DomainError):
    code = "acesso_negado"
    http_status = 403


class Unauthenticated(DomainError):
    code = "nao_autenticado"
    http_status = 401


class ConfigError(AppError):
    code = "configuracao_invalida"

    def __init__(self, problems: list[str]) -> None:
        super().__init__("Configuração insegura ou incompleta:\n- " + "\n- ".join(problems))
        self.problems = problems


class IntegrationError(AppError):
    code = "falha_de_integracao"
    http_status = 502
    retryable = True


class StorageError(IntegrationError):
    code = "falha_no_armazenamento"


class ChannelError(IntegrationError):
    code = "falha_no_canal"

    def __init__(
        self, message: str, *, permanent: bool = False, code: str | None = None, **details: Any
    ) -> None:
        super().__init__(message, code=code, **details)
        self.permanent = permanent
        self.retryable = not permanent


class UpstreamError(IntegrationError):
    code = "falha_em_servico_externo"
