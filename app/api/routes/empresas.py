"""Empresas: who am I, the empresas a token sees (a client token only its own), registering
and changing one (office only, audited), and the obligations attached to it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from app.api.deps import CurrentPrincipal, DbSession, OfficePrincipal, Page
from app.api.schemas import EmpresaOut, Pagina, PrincipalOut, page
from app.api.scope import empresa_filter
from app.api.visible import VisibleEmpresa
from app.empresas.queries import empresa_obligations, empresas_page, get_empresa
from app.empresas.service import create_empresa, update_empresa
from app.fiscal.competencia import Competencia

router = APIRouter(tags=["empresas"])

# JSON field (pt-BR) → column of the empresa, where they differ.
COLUMNS = {
    "codigo_ibge": "ibge_code",
    "tem_empregados": "has_employees",
    "tem_retencoes": "has_withholdings",
    "prestador_de_servicos": "is_service_provider",
    "caracteristicas": "characteristics",
    "responsavel_id": "responsible_staff_id",
    "responsaveis": "responsibles",
    "ativa": "active",
}
FIELDS = {column: name for name, column in COLUMNS.items()}


def _columns(fields: dict[str, Any]) -> dict[str, Any]:
    return {COLUMNS.get(k, k): v for k, v in fields.items()}


class EmpresaIn(BaseModel):
    """A new empresa; obligations are derived from regime and characteristics."""

    model_config = ConfigDict(extra="forbid")  # a misspelt field is refused, never ignored

    cnpj: str = Field(min_length=14, max_length=18)
    razao_social: str = Field(min_length=2, max_length=200)
    nome_fantasia: str | None = Field(default=None, max_length=200)
    regime: str
    uf: str = Field(min_length=2, max_length=2)
    codigo_ibge: str = Field(pattern=r"^\d{7}$")
    municipio: str | None = Field(default=None, max_length=100)
    tem_empregados: bool = False
    tem_retencoes: bool = False
    prestador_de_servicos: bool = False
    caracteristicas: dict[str, bool] = {}
    responsavel_id: int | None = None
    responsaveis: dict[str, int] = {}
    inicio: str | None = Field(default=None, description="Primeira competência (AAAA-MM)")


class EmpresaPatch(BaseModel):
    """Changes; ``vigencia`` is the first competência a regime change applies to."""

    model_config = ConfigDict(extra="forbid")

    razao_social: str | None = Field(default=None, min_length=2, max_length=200)
    nome_fantasia: str | None = Field(default=None, max_length=200)
    municipio: str | None = Field(default=None, max_length=100)
    regime: str | None = None
    tem_empregados: bool | None = None
    tem_retencoes: bool | None = None
    prestador_de_servicos: bool | None = None
    caracteristicas: dict[str, bool] | None = None
    responsavel_id: int | None = None
    responsaveis: dict[str, int] | None = None
    ativa: bool | None = None
    vigencia: str | None = None
    motivo: str | None = Field(default=None, max_length=2000)


class EmpresaChangeOut(BaseModel):
    """The empresa after the change and what the change did to its obligations."""

    empresa: EmpresaOut
    mudancas: dict[str, Any]


class AssignmentOut(BaseModel):
    """One obligation attached to an empresa."""

    obrigacao: str
    nome: str
    origem: str
    vigente_desde: str
    vigente_ate: str | None
    ativa: bool
    sobrescritas: dict[str, Any]


@router.get("/me", response_model=PrincipalOut)
def whoami(principal: CurrentPrincipal) -> PrincipalOut:
    """The caller's scope."""
    return PrincipalOut(
        nome=principal.name, escopo=principal.scope, empresa_id=principal.empresa_id
    )


@router.get("/empresas", response_model=Pagina[EmpresaOut])
def list_empresas(
    principal: CurrentPrincipal, session: DbSession, paging: Page
) -> Pagina[EmpresaOut]:
    """Empresas visible to the caller, by razão social."""
    total, rows = empresas_page(
        session,
        empresa_id=empresa_filter(principal, None),
        limit=paging.limite,
        offset=paging.deslocamento,
    )
    return page([EmpresaOut.of(e) for e in rows], total, paging)


@router.get("/empresas/{empresa_id}", response_model=EmpresaOut)
def get_route(empresa: VisibleEmpresa) -> EmpresaOut:
    """One empresa (404 for a client token, as if missing, when it is another empresa)."""
    return EmpresaOut.of(empresa)


@router.post("/empresas", response_model=EmpresaOut, status_code=201)
def create_route(body: EmpresaIn, principal: OfficePrincipal, session: DbSession) -> EmpresaOut:
    """Register an empresa (office only): valid CNPJ, obligations assigned, tarefas generated."""
    fields = _columns(body.model_dump(exclude={"inicio"}))
    inicio = Competencia.parse(body.inicio) if body.inicio else None
    return EmpresaOut.of(
        create_empresa(session, fields=fields, actor=principal.actor, inicio=inicio)
    )


@router.patch("/empresas/{empresa_id}", response_model=EmpresaChangeOut)
def patch_route(
    empresa_id: int, body: EmpresaPatch, principal: OfficePrincipal, session: DbSession
) -> EmpresaChangeOut:
    """Change an empresa (office only); a regime change re-derives its future obligations."""
    changes = _columns(body.model_dump(exclude_unset=True, exclude={"vigencia", "motivo"}))
    result = update_empresa(
        session,
        empresa_id=empresa_id,
        changes=changes,
        actor=principal.actor,
        vigencia=Competencia.parse(body.vigencia) if body.vigencia else None,
        reason=body.motivo,
    )
    result["alterados"] = sorted(FIELDS.get(c, c) for c in result["alterados"])
    empresa = EmpresaOut.of(get_empresa(session, empresa_id=empresa_id))
    return EmpresaChangeOut(empresa=empresa, mudancas=result)


@router.get("/empresas/{empresa_id}/obrigacoes", response_model=Pagina[AssignmentOut])
def obligations_route(
    empresa: VisibleEmpresa, session: DbSession, paging: Page
) -> Pagina[AssignmentOut]:
    """The obligations attached to an empresa, with their validity (scoped)."""
    total, rows = empresa_obligations(
        session, empresa_id=empresa.id, limit=paging.limite, offset=paging.deslocamento
    )
    return page([assignment_out(co, code, name) for co, code, name in rows], total, paging)


def assignment_out(co: Any, code: str, name: str) -> AssignmentOut:
    """An obligation attached to an empresa, as the API shows it."""
    return AssignmentOut(
        obrigacao=code,
        nome=name,
        origem=co.source,
        vigente_desde=co.valid_from,
        vigente_ate=co.valid_until,
        ativa=co.active,
        sobrescritas=co.overrides,
    )
