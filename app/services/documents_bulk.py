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

__all__ = ["json_ready", "recordset", "rows_json"]


@cache
def _sql_type(table: Table, column: str) -> str:
    # SQLAlchemy is imported here, not at module level: the ingest workers import this module
    # for json_ready only, and SQLAlchemy costs them ~1 s of start-up.
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


# A tuple built once: ``A | B`` in the loop would build a union object per value, and
# isinstance() against a union is several times slower than against a tuple.
_CONVERTED = (Decimal, datetime, date, frozenset, set)
# Exact types that never need converting: isinstance() on them is False anyway, but a miss costs
# a ``__class__`` lookup per candidate type, so most values skip it (one set lookup instead).
_PLAIN: frozenset[type] = frozenset({str, int, float, bool, type(None), list, dict})


def json_ready(row: dict[str, Any]) -> dict[str, Any]:
    """The row with Decimals/datetimes as the strings :func:`rows_json` would send (in place).

    Worker processes return rows this way: strings pickle ~20x faster than Decimal/datetime.
    """
    for key, value in row.items():
        if type(value) not in _PLAIN and isinstance(value, _CONVERTED):
            row[key] = _default(value)
    return row


def rows_json(columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
    """The rows (only ``columns``) as the JSON array :func:`recordset` expands."""
    return json.dumps(
        [{c: row[c] for c in columns} for row in rows],
        default=_default,
        ensure_ascii=False,
        separators=(",", ":"),
    )
