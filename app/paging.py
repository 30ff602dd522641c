"""One page of a query and the total it matched (every listing of the API is paged this way)."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

__all__ = ["count_rows", "fetch_page"]

T = TypeVar("T")


def count_rows(session: Session, stmt: Select[Any]) -> int:
    """How many rows ``stmt`` matches (its ordering dropped)."""
    count: Select[Any] = select(func.count()).select_from(stmt.order_by(None).subquery())
    return int(session.scalar(count) or 0)


def fetch_page(
    session: Session, stmt: Select[T], *, limit: int, offset: int
) -> tuple[int, list[T]]:
    """(total rows ``stmt`` matches, the rows of the page ``limit``/``offset``)."""
    total = count_rows(session, stmt)
    rows = list(session.scalars(stmt.limit(limit).offset(offset))) if total > offset else []
    return total, rows
