"""Bulk statements with one JSON parameter: ``INSERT … SELECT … FROM json_to_recordset(…)``.

A multi-row ``INSERT … VALUES (…), (…)`` with hundreds of rows is a new, long query text per
call: psycopg re-parses it every time (~60 ms for 200 rows × 30 columns) and PostgreSQL plans it
again. Array parameters (``unnest``) keep the text constant but psycopg escapes every array
element in Python (~80 ms per 500 rows). Here the rows travel as one JSON document (the C JSON
encoder: a few ms) that PostgreSQL expands with ``json_to_recordset``; the query text never
changes, so it is cached and prepared once per connection. Column types come from the SQLAlchemy
table (the single source), so the record definition never drifts from the schema. Decimals and
datetimes are sent as strings (exact; ISO 8601 with offset) and cast by PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import Table

__all__ = ["recordset", "rows_json"]


@cache
def _sql_type(table: Table, column: str) -> str:
    # SQLAlchemy is imported here, not at module level: importing this module must stay cheap
    # for processes that only build rows (SQLAlchemy costs ~1 s of start-up).
    from sqlalchemy.dialects import postgresql

    return str(table.c[column].type.compile(dialect=postgresql.dialect()))  # type: ignore[no-untyped-call]


def recordset(table: Table, columns: Sequence[str], *, param: str = "rows") -> str:
    """``json_to_recordset(CAST(:param AS json)) AS v(col type, …)`` for columns of ``table``."""
    cols = ", ".join(f"{c} {_sql_type(table, c)}" for c in columns)
    return f"json_to_recordset(CAST(:{param} AS json)) AS v({cols})"


def _default(value: Any) -> str:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, frozenset | set):
        return sorted(value)  # type: ignore[return-value]
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def rows_json(columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
    """The rows (only ``columns``) as the JSON array :func:`recordset` expands."""
    return json.dumps(
        [{c: row[c] for c in columns} for row in rows],
        default=_default,
        ensure_ascii=False,
        separators=(",", ":"),
    )
