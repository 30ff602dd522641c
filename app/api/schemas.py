"""Response/request models of the API (pydantic)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = ["ERROR_RESPONSES", "EmpresaOut", "ErrorOut", "PrincipalOut"]


class PrincipalOut(BaseModel):
    """The authenticated caller."""

    name: str
    scope: str
    empresa_id: int | None


class EmpresaOut(BaseModel):
    """An empresa as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    cnpj: str
    razao_social: str
    nome_fantasia: str | None
    regime: str
    uf: str
    ibge_code: str
    municipio: str | None
    active: bool


class ErrorBody(BaseModel):
    """A stable, machine-readable code and a pt-BR message (details when useful)."""

    code: str
    message: str
    details: dict[str, Any] | None = None


class ErrorOut(BaseModel):
    """Every error the API answers: ``{"error": {"code", "message", "details"?}}``."""

    error: ErrorBody


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorOut, "description": description}


# Documented on every route (OpenAPI): what any route may answer besides its success.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _error("Corpo da requisição ilegível (corpo_invalido)."),
    401: _error("Token ausente, inválido ou revogado."),
    403: _error("Fora do escopo do token (empresa_fora_do_escopo, somente_escritorio)."),
    404: _error("Objeto ou rota inexistente."),
    409: _error("Conflito com o estado atual (duplicado, já enviado, integridade)."),
    422: _error("Entrada inválida (requisicao_invalida e códigos de cada regra)."),
    500: _error("Erro interno inesperado (erro_interno); nada de detalhes internos."),
}
