"""Revenue ledger and payroll (office only): adjustments, opening history, monthly payroll."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from app.api.deps import CurrentPrincipal, DbSession
from app.errors import MISSING_EMPRESA
from app.fiscal.competencia import Competencia
from app.guides import ledger
from app.platform.tokens import require_office
from models import Empresa

router = APIRouter(tags=["receitas"])


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


class MonthOut(BaseModel):
    """A month of the ledger: revenue per Anexo (all sources) and payroll."""

    competencia: str
    receitas: dict[str, str]
    folha: str | None


@router.post("/api/empresas/{empresa_id}/receitas", status_code=201)
def declare_entry(
    empresa_id: int, body: EntryIn, principal: CurrentPrincipal, session: DbSession
) -> dict[str, object]:
    """Declare an adjustment or an opening-history amount (replaces the previous; audited)."""
    require_office(principal)
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
    return {"id": row.id, "competencia": row.competencia, "valor": str(row.amount)}


@router.post("/api/empresas/{empresa_id}/folha", status_code=201)
def declare_payroll(
    empresa_id: int, body: PayrollIn, principal: CurrentPrincipal, session: DbSession
) -> dict[str, object]:
    """Declare the payroll of a month (audited)."""
    require_office(principal)
    row = ledger.set_payroll(
        session,
        empresa_id=empresa_id,
        competencia=body.competencia,
        amount=body.valor,
        actor=principal.actor,
    )
    return {"id": row.id, "competencia": row.competencia, "valor": str(row.amount)}


@router.get("/api/empresas/{empresa_id}/receitas", response_model=list[MonthOut])
def read_ledger(
    empresa_id: int, inicio: str, fim: str, principal: CurrentPrincipal, session: DbSession
) -> list[MonthOut]:
    """The ledger between two competências (revenue per Anexo, all sources, and payroll)."""
    require_office(principal)
    if session.get(Empresa, empresa_id) is None:
        raise MISSING_EMPRESA.error()
    start, end = Competencia.parse(inicio), Competencia.parse(fim)
    sums = ledger.ledger_sums(session, empresa_ids=[empresa_id], start=start, end=end)
    pay = ledger.payroll_sums(session, empresa_ids=[empresa_id], start=start, end=end)
    months = sums.get(empresa_id, {})
    folha = pay.get(empresa_id, {})
    return [
        MonthOut(
            competencia=str(c),
            receitas={a: str(v) for a, v in sorted(months.get(str(c), {}).items())},
            folha=None if str(c) not in folha else str(folha[str(c)]),
        )
        for c in Competencia.range(start, end)
    ]
