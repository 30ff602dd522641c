"""Office-only empresa management: register one, change its regime/characteristics (audited)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import select

from app.api.deps import CurrentPrincipal, DbSession
from app.api.schemas import EmpresaOut
from app.api.scope import ensure_visible
from app.empresas.service import create_empresa, update_empresa
from app.errors import MISSING_EMPRESA
from app.fiscal.competencia import Competencia
from app.platform.tokens import require_office
from models import CompanyObligation, Empresa, Obligation

router = APIRouter(tags=["empresas"])


class EmpresaIn(BaseModel):
    """A new empresa; obligations are derived from regime and characteristics."""

    cnpj: str = Field(min_length=14, max_length=18)
    razao_social: str = Field(min_length=2, max_length=200)
    nome_fantasia: str | None = Field(default=None, max_length=200)
    regime: str
    uf: str = Field(min_length=2, max_length=2)
    ibge_code: str = Field(pattern=r"^\d{7}$")
    municipio: str | None = Field(default=None, max_length=100)
    has_employees: bool = False
    has_withholdings: bool = False
    is_service_provider: bool = False
    characteristics: dict[str, bool] = {}
    responsible_staff_id: int | None = None
    responsibles: dict[str, int] = {}
    inicio: str | None = Field(default=None, description="Primeira competência (AAAA-MM)")


class EmpresaPatch(BaseModel):
    """Changes; ``vigencia`` is the first competência a regime change applies to."""

    razao_social: str | None = Field(default=None, min_length=2, max_length=200)
    nome_fantasia: str | None = Field(default=None, max_length=200)
    municipio: str | None = Field(default=None, max_length=100)
    regime: str | None = None
    has_employees: bool | None = None
    has_withholdings: bool | None = None
    is_service_provider: bool | None = None
    characteristics: dict[str, bool] | None = None
    responsible_staff_id: int | None = None
    responsibles: dict[str, int] | None = None
    active: bool | None = None
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


@router.post("/api/empresas", response_model=EmpresaOut, status_code=201)
def create_route(body: EmpresaIn, principal: CurrentPrincipal, session: DbSession) -> Empresa:
    """Register an empresa (office only): valid CNPJ, obligations assigned, tarefas generated."""
    require_office(principal)
    fields = body.model_dump(exclude={"inicio"})
    inicio = Competencia.parse(body.inicio) if body.inicio else None
    return create_empresa(session, fields=fields, actor=principal.actor, inicio=inicio)


@router.patch("/api/empresas/{empresa_id}", response_model=EmpresaChangeOut)
def patch_route(
    empresa_id: int, body: EmpresaPatch, principal: CurrentPrincipal, session: DbSession
) -> EmpresaChangeOut:
    """Change an empresa (office only); a regime change re-derives its future obligations."""
    require_office(principal)
    changes = body.model_dump(exclude_unset=True, exclude={"vigencia", "motivo"})
    result = update_empresa(
        session,
        empresa_id=empresa_id,
        changes=changes,
        actor=principal.actor,
        vigencia=Competencia.parse(body.vigencia) if body.vigencia else None,
        reason=body.motivo,
    )
    emp = session.get(Empresa, empresa_id)
    return EmpresaChangeOut(empresa=EmpresaOut.model_validate(emp), mudancas=result)


@router.get("/api/empresas/{empresa_id}/obrigacoes", response_model=list[AssignmentOut])
def obligations_route(
    empresa_id: int, principal: CurrentPrincipal, session: DbSession
) -> list[AssignmentOut]:
    """The obligations attached to an empresa, with their validity (scoped)."""
    ensure_visible(principal, empresa_id, MISSING_EMPRESA)
    if session.get(Empresa, empresa_id) is None:
        raise MISSING_EMPRESA.error()
    rows = session.execute(
        select(CompanyObligation, Obligation.code, Obligation.name)
        .join(Obligation, Obligation.id == CompanyObligation.obligation_id)
        .where(CompanyObligation.empresa_id == empresa_id)
        .order_by(Obligation.code)
    )
    return [
        AssignmentOut(
            obrigacao=code,
            nome=name,
            origem=co.source,
            vigente_desde=co.valid_from,
            vigente_ate=co.valid_until,
            ativa=co.active,
            sobrescritas=co.overrides,
        )
        for co, code, name in rows
    ]
