"""Read side of guides and of the revenue ledger: pages with totals, one guide or its 404."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import MISSING_EMPRESA, MISSING_GUIA
from app.fiscal.competencia import Competencia
from app.guides import ledger
from app.paging import fetch_page
from models import Empresa, Guide

__all__ = ["LedgerMonth", "get_guide", "guides_page", "ledger_months"]


def get_guide(session: Session, *, guide_id: int) -> Guide:
    """One guide; NotFound (``guia_nao_encontrada``) when absent."""
    guide = session.get(Guide, guide_id)
    if guide is None:
        raise MISSING_GUIA.error()
    return guide


def guides_page(
    session: Session,
    *,
    competencia: Competencia | None = None,
    status: str | None = None,
    empresa_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[int, list[Guide]]:
    """Guides by competência, status and empresa (newest competência first) and their total."""
    q = select(Guide).order_by(Guide.competencia.desc(), Guide.empresa_id, Guide.id)
    if competencia is not None:
        q = q.where(Guide.competencia == str(competencia))
    if status:
        q = q.where(Guide.status == status)
    if empresa_id is not None:
        q = q.where(Guide.empresa_id == empresa_id)
    return fetch_page(session, q, limit=limit, offset=offset)


@dataclass(frozen=True, slots=True)
class LedgerMonth:
    """A month of the ledger: revenue per Anexo (all sources) and the payroll, if declared."""

    competencia: Competencia
    revenue: dict[str, str]
    payroll: str | None


def ledger_months(
    session: Session, *, empresa_id: int, start: Competencia, end: Competencia
) -> list[LedgerMonth]:
    """Every month from ``start`` to ``end`` of an empresa's ledger (404 for an unknown one)."""
    if session.get(Empresa, empresa_id) is None:
        raise MISSING_EMPRESA.error()
    sums = ledger.ledger_sums(session, empresa_ids=[empresa_id], start=start, end=end)
    pay = ledger.payroll_sums(session, empresa_ids=[empresa_id], start=start, end=end)
    months, folha = sums.get(empresa_id, {}), pay.get(empresa_id, {})
    return [
        LedgerMonth(
            competencia=c,
            revenue={a: str(v) for a, v in sorted(months.get(str(c), {}).items())},
            payroll=None if str(c) not in folha else str(folha[str(c)]),
        )
        for c in Competencia.range(start, end)
    ]
