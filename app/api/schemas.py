"""Response/request models of the API (pydantic)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["EmpresaOut", "PrincipalOut"]


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
