"""Declarative base, naming convention and shared column helpers.

The column types are dialect-aware (PostgreSQL, or MySQL/MariaDB with DB_CONNECTION=mysql):
:data:`JsonType` is JSONB on PostgreSQL and JSON on MySQL, :class:`UtcDateTime` is timestamptz on
PostgreSQL and a UTC ``DATETIME(6)`` on MySQL, returned timezone-aware on both. The DDL spelling
rules live in :mod:`models.mysql_ddl`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from sqlalchemy import BigInteger, DateTime, Dialect, MetaData, Numeric, String, func
from sqlalchemy.dialects import mysql
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator, TypeEngine

import models.mysql_ddl  # noqa: F401  (registers the MySQL spelling of the schema)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp: timestamptz on PostgreSQL, UTC DATETIME(6) on MySQL/MariaDB.

    MySQL's DATETIME keeps no offset: aware values are stored converted to UTC and come back
    with ``tzinfo=UTC``, so code never sees a naive datetime on either database."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        """DATETIME(6) on MySQL (microseconds as in PostgreSQL), timestamptz elsewhere."""
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """On MySQL: aware → naive UTC (a naive value is taken as UTC already)."""
        if value is None or dialect.name not in ("mysql", "mariadb"):
            return value
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """On MySQL: the stored naive UTC value, made aware."""
        if value is None or value.tzinfo is not None:
            return value
        return value.replace(tzinfo=UTC)


# JSONB on PostgreSQL, JSON on MySQL/MariaDB.
JsonType = JSONB().with_variant(mysql.JSON(), "mysql", "mariadb")

# Shared column types.
BigId = Annotated[int, mapped_column(BigInteger, primary_key=True, autoincrement=True)]
Money = Annotated[Decimal, mapped_column(Numeric(15, 2))]
Competencia = Annotated[str, mapped_column(String(7))]  # "YYYY-MM"
Json = Annotated[Any, mapped_column(JsonType)]


class Base(DeclarativeBase):
    """Base of every table; money is Numeric ↔ Decimal, timestamps are timezone-aware."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        datetime: UtcDateTime(),
        dict[str, Any]: JsonType,
        list[Any]: JsonType,
    }


class TimestampMixin:
    """created_at / updated_at, set by the database."""

    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())
