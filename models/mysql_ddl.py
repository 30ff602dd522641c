"""How the PostgreSQL-flavoured schema is spelled on MySQL/MariaDB (docs/mysql.md).

The models and the applied migrations are written once, in PostgreSQL's terms (JSONB, ``now()``,
``'{}'::jsonb``, timezone-aware timestamps). Rather than a second migration tree, these compile
rules translate them when the dialect is MySQL or MariaDB; PostgreSQL's DDL is untouched:

- ``JSONB`` → ``JSON`` (MariaDB stores it as LONGTEXT with a ``json_valid`` check);
- ``DateTime(timezone=True)`` → ``DATETIME(6)``: microseconds like PostgreSQL's timestamptz,
  always UTC (every session sets ``time_zone='+00:00'``, :mod:`app.db`), made aware again on the
  way out by :class:`models.base.UtcDateTime`;
- server defaults ``now()`` → ``CURRENT_TIMESTAMP(6)``, ``'…'::jsonb`` → ``('…')``; ``func.now()``
  in queries and ORM ``onupdate`` is ``CURRENT_TIMESTAMP(6)`` too (MySQL's ``now()`` drops the
  microseconds PostgreSQL keeps, and rows created in one second would tie in an ORDER BY);
- ``DEFERRABLE INITIALLY DEFERRED`` is dropped (InnoDB checks a foreign key at once: code that
  relies on a deferred check must insert parents first, or set ``FOREIGN_KEY_CHECKS=0``);
- every table is created ``DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin``: case- and
  accent-sensitive like PostgreSQL, so two CNPJ/chave values that differ only in case never
  merge under a unique key, whatever the database's default collation is.

Queries: ``… NULLS LAST`` / ``NULLS FIRST`` (which MySQL lacks) are spelled ``x IS NULL, x …`` /
``x IS NOT NULL, x …``, the same order.

Partial indexes (``postgresql_where``) become plain indexes on MySQL: all of them are non-unique
lookup indexes, so the plain index is a superset with the same answers.
Imported by :mod:`models.base`, so the rules are in place wherever the models are.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.dialects.mysql.base import MySQLCompiler, MySQLDDLCompiler
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import CreateTable
from sqlalchemy.sql import functions, operators
from sqlalchemy.sql.elements import UnaryExpression

__all__ = ["MYSQL_CHARSET", "MYSQL_COLLATION", "translate_default"]

MYSQL_CHARSET = "utf8mb4"
MYSQL_COLLATION = "utf8mb4_bin"
_MYSQL = ("mysql", "mariadb")

_JSONB_LITERAL = re.compile(r"^\s*('(?:[^']|'')*')\s*::\s*jsonb\s*$", re.IGNORECASE)
_NOW = re.compile(r"^\s*(now\(\)|current_timestamp)\s*$", re.IGNORECASE)


def translate_default(text: str) -> str:
    """A PostgreSQL server-default expression as MySQL/MariaDB spells it."""
    if _NOW.match(text):
        return "CURRENT_TIMESTAMP(6)"
    literal = _JSONB_LITERAL.match(text)
    if literal:
        return f"({literal.group(1)})"  # an expression default: JSON takes no literal one
    return text


def _compile_jsonb(type_: JSONB, compiler: Any, **kw: Any) -> str:
    return "JSON"


def _compile_datetime(type_: DateTime, compiler: Any, **kw: Any) -> str:
    return "DATETIME(6)" if type_.timezone else compiler.visit_datetime(type_, **kw)


def _compile_now(element: functions.now, compiler: Any, **kw: Any) -> str:
    return "CURRENT_TIMESTAMP(6)"


def _compile_create_table(element: CreateTable, compiler: Any, **kw: Any) -> str:
    sql: str = compiler.visit_create_table(element, **kw)
    opts = element.element.dialect_options["mysql"]
    if not opts.get("charset") and not opts.get("collate"):
        sql = f"{sql.rstrip()} DEFAULT CHARSET={MYSQL_CHARSET} COLLATE={MYSQL_COLLATION}\n\n"
    return sql


for _name in _MYSQL:
    compiles(JSONB, _name)(_compile_jsonb)
    compiles(DateTime, _name)(_compile_datetime)
    compiles(CreateTable, _name)(_compile_create_table)
    compiles(functions.now, _name)(_compile_now)

_original_default = MySQLDDLCompiler.get_column_default_string


def _column_default_string(self: MySQLDDLCompiler, column: Any) -> str | None:
    # Used by CREATE TABLE and by Alembic's ADD COLUMN alike.
    default = _original_default(self, column)
    return None if default is None else translate_default(default)


def _no_deferrability(self: MySQLDDLCompiler, constraint: Any) -> str:
    return ""  # MySQL has no deferrable constraints and rejects the clause


def _nulls_placed(self: MySQLCompiler, unary: Any, nulls_last: bool, **kw: Any) -> str:
    # MySQL sorts NULL as the smallest value; a leading "x IS NULL" key puts it where asked.
    ordered = unary.element
    plain = ordered
    if isinstance(ordered, UnaryExpression) and ordered.modifier in (
        operators.desc_op,
        operators.asc_op,
    ):
        plain = ordered.element
    test = "IS NULL" if nulls_last else "IS NOT NULL"
    return f"{self.process(plain, **kw)} {test}, {self.process(ordered, **kw)}"


def _nulls_last(self: MySQLCompiler, unary: Any, modifier: Any, **kw: Any) -> str:
    return _nulls_placed(self, unary, True, **kw)


def _nulls_first(self: MySQLCompiler, unary: Any, modifier: Any, **kw: Any) -> str:
    return _nulls_placed(self, unary, False, **kw)


if not getattr(MySQLDDLCompiler.get_column_default_string, "_contab", False):
    _column_default_string._contab = True  # type: ignore[attr-defined]
    MySQLDDLCompiler.get_column_default_string = _column_default_string  # type: ignore[method-assign]
    MySQLDDLCompiler.define_constraint_deferrability = _no_deferrability  # type: ignore[method-assign]
    MySQLCompiler.visit_nulls_last_op_unary_modifier = _nulls_last  # type: ignore[attr-defined]
    MySQLCompiler.visit_nulls_first_op_unary_modifier = _nulls_first  # type: ignore[attr-defined]
