"""Read side of monthly document requests: a page of requests with their items in one query."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.fiscal.competencia import Competencia
from app.paging import count_rows
from models import DocumentRequest, RequestItem

__all__ = ["RequestWithItems", "requests_page"]

RequestWithItems = tuple[DocumentRequest, list[RequestItem]]


def requests_page(
    session: Session,
    *,
    empresa_id: int | None = None,
    competencia: Competencia | None = None,
    status: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[int, list[RequestWithItems]]:
    """Requests (newest competência first) with their items, and the total that matched.

    The page's requests and all their items come back in one statement (the page is a
    subquery joined to its items), never a query per listed request."""
    q = select(DocumentRequest)
    if empresa_id is not None:
        q = q.where(DocumentRequest.empresa_id == empresa_id)
    if competencia is not None:
        q = q.where(DocumentRequest.competencia == str(competencia))
    if status is not None:
        q = q.where(DocumentRequest.status == status)
    order = (DocumentRequest.competencia.desc(), DocumentRequest.id)
    total = count_rows(session, q)
    if total <= offset:
        return total, []
    page = q.with_only_columns(DocumentRequest.id).order_by(*order).limit(limit).offset(offset)
    ids = page.subquery()
    rows = session.execute(
        select(DocumentRequest, RequestItem)
        .join(ids, ids.c.id == DocumentRequest.id)
        .outerjoin(RequestItem, RequestItem.request_id == DocumentRequest.id)
        .order_by(*order, RequestItem.id)
    ).all()
    out: dict[int, RequestWithItems] = {}
    for req, item in rows:
        entry = out.setdefault(req.id, (req, []))
        if item is not None:
            entry[1].append(item)
    return total, list(out.values())
