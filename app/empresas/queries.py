"""Read side of empresas: a page of empresas, one empresa or its 404, its obligations."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import MISSING_EMPRESA
from app.paging import count_rows
from models import CompanyObligation, Empresa, Obligation

__all__ = ["empresa_obligations", "empresas_page", "get_empresa"]


def get_empresa(session: Session, *, empresa_id: int) -> Empresa:
    """One empresa; NotFound (``empresa_nao_encontrada``) when absent."""
    row = session.get(Empresa, empresa_id)
    if row is None:
        raise MISSING_EMPRESA.error()
    return row


def empresas_page(
    session: Session, *, empresa_id: int | None, limit: int = 100, offset: int = 0
) -> tuple[int, list[Empresa]]:
    """Empresas by razão social (only ``empresa_id`` when given) and their total."""
    q = select(Empresa)
    if empresa_id is not None:
        q = q.where(Empresa.id == empresa_id)
    total = count_rows(session, q)
    rows = session.scalars(q.order_by(Empresa.razao_social, Empresa.id).limit(limit).offset(offset))
    return total, list(rows)


def empresa_obligations(
    session: Session, *, empresa_id: int, limit: int = 100, offset: int = 0
) -> tuple[int, list[tuple[CompanyObligation, str, str]]]:
    """(total, page of (assignment, obligation code, obligation name)) of an empresa, by code."""
    get_empresa(session, empresa_id=empresa_id)
    q: Any = (
        select(CompanyObligation, Obligation.code, Obligation.name)
        .join(Obligation, Obligation.id == CompanyObligation.obligation_id)
        .where(CompanyObligation.empresa_id == empresa_id)
    )
    total = count_rows(session, q)
    rows = session.execute(q.order_by(Obligation.code).limit(limit).offset(offset)).tuples()
    return total, list(rows)
