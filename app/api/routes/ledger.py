"""Revenue ledger and payroll (office only): adjustments, opening history, monthly payroll."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from app.api.deps import DbSession, OfficePrincipal, Page, office_only
from app.api.schemas import Pagina, page
from app.fiscal.competencia import Competencia
from app.guides import ledger
from app.guides.queries import ledger_months

router = APIRouter(tags=["receitas"], dependencies=[Depends(office_only)])


class EntryIn(BaseModel):
    """An adjustment (may be negative) or the opening history of a month, per Anexo."""

    competencia: str
    anexo: Literal["I", "II", "III", "IV", "V"]
    origem: Literal["ajuste", "historico"]
    valor: Decimal = Field(max_digits=15, decimal_places=2)
    observacao: str | None = None


class PayrollIn(BaseModel):
    """Payroll of a month (Fator R)."""

    competencia: str
    valor: Decimal = Field(ge=0, max_digits=15, decimal_places=2)


class EntryOut(BaseModel):
    """The recorded amount."""

    id: int
    competencia: str
    valor: str


class MonthOut(BaseModel):
    """A month of the ledger: revenue per Anexo (all sources) and payroll."""

    competencia: str
    receitas: dict[str, str]
    folha: str | None


@router.post("/empresas/{empresa_id}/receitas", status_code=201, response_model=EntryOut)
def declare_entry(
    empresa_id: int, body: EntryIn, principal: OfficePrincipal, session: DbSession
) -> EntryOut:
    """Declare an adjustment or an opening-history amount (replaces the previous; audited)."""
    row = ledger.set_entry(
        session,
        empresa_id=empresa_id,
        competencia=body.competencia,
        anexo=body.anexo,
        source=body.origem,
        amount=body.valor,
        actor=principal.actor,
        note=body.observacao,
    )
    return EntryOut(id=row.id, competencia=row.competencia, valor=str(row.amount))


@router.post("/empresas/{empresa_id}/folha", status_code=201, response_model=EntryOut)
def declare_payroll(
    empresa_id: int, body: PayrollIn, principal: OfficePrincipal, session: DbSession
) -> EntryOut:
    """Declare the payroll of a month (audited)."""
    row = ledger.set_payroll(
        session,
        empresa_id=empresa_id,
        competencia=body.competencia,
        amount=body.valor,
        actor=principal.actor,
    )
    return EntryOut(id=row.id, competencia=row.competencia, valor=str(row.amount))


@router.get("/empresas/{empresa_id}/receitas", response_model=Pagina[MonthOut])
def read_ledger(
    empresa_id: int, inicio: str, fim: str, session: DbSession, paging: Page
) -> Pagina[MonthOut]:
    """The ledger month by month between two competências (revenue per Anexo and payroll)."""
    start, end = Competencia.parse(inicio), Competencia.parse(fim)
    months = ledger_months(session, empresa_id=empresa_id, start=start, end=end)
    chosen = months[paging.deslocamento : paging.deslocamento + paging.limite]
    return page(
        [MonthOut(competencia=str(m.competencia), receitas=m.revenue, folha=m.payroll)
         for m in chosen],
        len(months),
        paging,
    )  # fmt: skip
