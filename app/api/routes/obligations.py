"""Obligations (office only, audited): the catalogue with the office's custom obligations, and
what one empresa owes by hand (attach, switch off, override its rule).

A custom obligation's ``regra`` and an empresa's ``sobrescritas`` use the keys of the shipped
catalogue (``app/fiscal/data/obligations.toml``: ``code``, ``due``, ``lead_time_business_days``
…) and are validated like it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from app.api.deps import DbSession, OfficePrincipal, Page, office_only
from app.api.schemas import Pagina, page
from app.fiscal.competencia import Competencia
from app.obligations.custom import (
    ObligationView,
    create_custom_obligation,
    list_obligations,
    set_company_obligation,
    set_custom_obligation_active,
)

router = APIRouter(tags=["obrigacoes"], dependencies=[Depends(office_only)])


class ObrigacaoOut(BaseModel):
    """An obligation of the catalogue or a custom one."""

    id: int
    codigo: str
    nome: str
    departamento: str
    personalizada: bool
    ativa: bool

    @classmethod
    def of(cls, v: ObligationView) -> ObrigacaoOut:
        """From the service's view."""
        return cls(
            id=v.id, codigo=v.code, nome=v.name, departamento=v.department,
            personalizada=v.custom, ativa=v.active,
        )  # fmt: skip


class ObrigacaoIn(BaseModel):
    """A custom obligation: its rule, in the catalogue's format."""

    model_config = ConfigDict(extra="forbid")

    regra: dict[str, Any]


class ObrigacaoPatch(BaseModel):
    """Switch a custom obligation off (no new tarefas; existing ones stay) or back on."""

    model_config = ConfigDict(extra="forbid")

    ativa: bool
    motivo: str | None = Field(default=None, max_length=2000)


class AjusteIn(BaseModel):
    """One obligation of one empresa: attach it by hand, switch it off, or override its rule."""

    model_config = ConfigDict(extra="forbid")

    sobrescritas: dict[str, Any] | None = None
    ativa: bool | None = None
    vigente_desde: str | None = Field(default=None, description="AAAA-MM (ao anexar)")


class AjusteOut(BaseModel):
    """The empresa's obligation after the change."""

    empresa_id: int
    obrigacao: str
    origem: str
    ativa: bool
    vigente_desde: str
    vigente_ate: str | None
    sobrescritas: dict[str, Any]


def _find(session: DbSession, code: str) -> ObrigacaoOut:
    return next(ObrigacaoOut.of(v) for v in list_obligations(session) if v.code == code)


@router.get("/obrigacoes", response_model=Pagina[ObrigacaoOut])
def list_route(
    session: DbSession,
    paging: Page,
    personalizadas: Annotated[bool, Query(description="Só as personalizadas")] = False,
) -> Pagina[ObrigacaoOut]:
    """Every obligation by code (catalogue and custom)."""
    rows = list_obligations(session, custom_only=personalizadas)
    chosen = rows[paging.deslocamento : paging.deslocamento + paging.limite]
    return page([ObrigacaoOut.of(v) for v in chosen], len(rows), paging)


@router.post("/obrigacoes", response_model=ObrigacaoOut, status_code=201)
def create_route(body: ObrigacaoIn, principal: OfficePrincipal, session: DbSession) -> ObrigacaoOut:
    """Create a custom obligation (validated like the catalogue; audited)."""
    create_custom_obligation(session, rule=body.regra, actor=principal.actor)
    return _find(session, str(body.regra["code"]))


@router.patch("/obrigacoes/{codigo}", response_model=ObrigacaoOut)
def patch_route(
    codigo: str, body: ObrigacaoPatch, principal: OfficePrincipal, session: DbSession
) -> ObrigacaoOut:
    """Switch a custom obligation on or off (catalogue ones: 409; adjust them per empresa)."""
    view = set_custom_obligation_active(
        session, code=codigo, active=body.ativa, actor=principal.actor, reason=body.motivo
    )
    return ObrigacaoOut.of(view)


@router.put("/empresas/{empresa_id}/obrigacoes/{codigo}", response_model=AjusteOut)
def adjust_route(
    empresa_id: int, codigo: str, body: AjusteIn, principal: OfficePrincipal, session: DbSession
) -> AjusteOut:
    """Attach an obligation to an empresa by hand, switch it off or override its rule (audited)."""
    row = set_company_obligation(
        session,
        empresa_id=empresa_id,
        code=codigo,
        actor=principal.actor,
        overrides=body.sobrescritas,
        active=body.ativa,
        valid_from=Competencia.parse(body.vigente_desde) if body.vigente_desde else None,
    )
    return AjusteOut(
        empresa_id=row.empresa_id, obrigacao=codigo, origem=row.source, ativa=row.active,
        vigente_desde=row.valid_from, vigente_ate=row.valid_until, sobrescritas=row.overrides,
    )  # fmt: skip
