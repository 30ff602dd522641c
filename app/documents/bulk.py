"""Bulk statements with one JSON parameter: ``INSERT … SELECT … FROM json_to_recordset(…)``.

A multi-row ``INSERT … VALUES (…), (…)`` with hundreds of rows is a new, long query text per
call: psycopg re-parses it every time (~60 ms for 200 rows × 30 columns) and PostgreSQL plans it
again. Array parameters (``unnest``) keep the text constant but psycopg escapes every array
element in Python (~80 ms per 500 rows). Here the rows travel as one JSON document (the C JSON
encoder: a few ms) that PostgreSQL expands with ``json_to_recordset``; the query text never
changes, so it is cached and prepared once per connection. Column types come from the SQLAlchemy
table (the single source), so the record definition never drifts from the schema. Decimals and
datetimes are sent as strings (exact; ISO 8601 with offset) and cast by PostgreSQL.

MySQL/MariaDB: the same JSON document expanded by ``JSON_TABLE`` (MySQL 8, MariaDB 10.6)
(:func:`json_table`, rows from :func:`rows_json_mysql`): datetimes travel as naive UTC (the
columns store UTC; an offset would be truncated) and JSON columns as JSON text (a JSON ``null``
would otherwise be stored as the JSON value rather than SQL NULL).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import Table

__all__ = ["json_table", "recordset", "rows_json", "rows_json_mysql"]


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


def _mysql_type(type_: Any) -> str:
    from sqlalchemy import types as t

    impl = getattr(type_, "impl_instance", None) or getattr(type_, "impl", None)
    for candidate in (type_, impl):
        if isinstance(candidate, t.JSON):
            return "LONGTEXT"
        if isinstance(candidate, t.DateTime):
            return "DATETIME(6)"
        if isinstance(candidate, t.Date):
            return "DATE"
        if isinstance(candidate, t.Boolean):
            return "BOOLEAN"
        if isinstance(candidate, t.Integer):
            return "BIGINT"
        if isinstance(candidate, t.Numeric):
            return f"DECIMAL({candidate.precision or 30},{candidate.scale or 0})"
        if isinstance(candidate, t.String) and not isinstance(candidate, t.Text):
            if candidate.length:
                return f"VARCHAR({candidate.length}) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
        if isinstance(candidate, t.String):
            return "LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
    raise TypeError(f"no JSON_TABLE type for {type_!r}")


@cache
def _mysql_columns(table: Table, columns: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f"{c} {_mysql_type(table.c[c].type)} PATH '$.{c}'" for c in columns)


def json_table(table: Table, columns: Sequence[str], *, param: str = "rows") -> str:
    """``JSON_TABLE(:param, '$[*]' COLUMNS (col type PATH '$.col', …)) AS v`` (MySQL/MariaDB)."""
    cols = ", ".join(_mysql_columns(table, tuple(columns)))
    return f"JSON_TABLE(:{param}, '$[*]' COLUMNS ({cols})) AS v"


@cache
def _columns_of(table: Table, columns: tuple[str, ...], sql_type: str) -> frozenset[str]:
    return frozenset(c for c in columns if _mysql_type(table.c[c].type) == sql_type)


def _utc_naive(value: datetime | str) -> str:
    if isinstance(value, str):  # rows are JSON-ready: ISO 8601 text with offset
        value = datetime.fromisoformat(value)
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat()


def _mysql_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return _utc_naive(value)
    return _default(value)


def rows_json_mysql(table: Table, columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
    """The rows as the JSON array :func:`json_table` expands (MySQL/MariaDB)."""
    as_json = _columns_of(table, tuple(columns), "LONGTEXT")
    as_time = _columns_of(table, tuple(columns), "DATETIME(6)")

    def cell(c: str, v: Any) -> Any:
        if v is None:
            return v
        if c in as_json:
            return json.dumps(v, default=_default, ensure_ascii=False, separators=(",", ":"))
        if c in as_time:
            return _utc_naive(v)
        return v

    return json.dumps(
        [{c: cell(c, row[c]) for c in columns} for row in rows],
        default=_mysql_default,
        ensure_ascii=False,
        separators=(",", ":"),
    )


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
