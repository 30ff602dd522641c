"""Database engine and sessions (SQLAlchemy 2 sync; psycopg 3 or PyMySQL).

Nothing is built at import time: the engine is created on first use from the settings. Services
take a ``Session`` and never commit; the caller (a task, a route) owns the transaction through
:func:`session_scope`.

On MySQL/MariaDB (DB_CONNECTION=mysql, docs/mysql.md) every connection is put in PostgreSQL's
terms: READ COMMITTED (InnoDB's default REPEATABLE READ changes which rows a locking read sees and
takes gap locks the services do not expect), strict ``sql_mode`` (an over-long or invalid value is
an error, never silently truncated), ``time_zone='+00:00'`` (timestamps are stored as UTC) and a
statement time limit.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from app.settings import Settings, get_settings

__all__ = [
    "MYSQL_SQL_MODE",
    "configure_mysql_sessions",
    "engine_options",
    "get_engine",
    "get_side_engine",
    "get_sessionmaker",
    "session_scope",
    "reset_engine",
]

# Strict for every engine (STRICT_ALL_TABLES) plus the checks PostgreSQL always makes.
MYSQL_SQL_MODE = (
    "STRICT_ALL_TABLES,STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,"
    "ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION"
)


# A violated CHECK constraint is an IntegrityError, as on PostgreSQL; PyMySQL maps MariaDB's 4025
# (ER_CONSTRAINT_FAILED) to OperationalError and MySQL's 3819 to nothing (OperationalError too),
# and services catch IntegrityError.
_CHECK_VIOLATIONS = (4025, 3819)


def _map_check_violations() -> None:
    import pymysql.err

    for errno in _CHECK_VIOLATIONS:
        pymysql.err.error_map[errno] = pymysql.err.IntegrityError


def _escape_datetime_utc(value: datetime, mapping: Any = None) -> str:
    from pymysql.converters import escape_datetime

    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return str(escape_datetime(value, mapping))


_FIELD_DATETIME = 12  # pymysql.constants.FIELD_TYPE.DATETIME


def _decode_datetime_utc(value: str | bytes) -> Any:
    from pymysql.converters import convert_datetime

    out = convert_datetime(value)
    return out.replace(tzinfo=UTC) if isinstance(out, datetime) else out


def _nul_refused(where: str) -> Exception:
    import pymysql.err

    # Raised as a DBAPI DataError, SQLAlchemy wraps it as on PostgreSQL (the API's handler
    # answers caractere_invalido for a message naming NUL).
    return pymysql.err.DataError(
        1366, f"NUL (0x00) character in {where}: refused as PostgreSQL does"
    )


def _json_without_nul(value: Any) -> str:
    """json.dumps, refusing what jsonb refuses: a NUL character (written as \\u0000)."""
    text = json.dumps(value)
    if "\\u0000" in text:
        raise _nul_refused("a JSON value")
    return text


def _refuse_nul_text(parameters: Any) -> None:
    """PostgreSQL text never holds NUL and refuses it; MySQL would store it. The repr scan is
    one C-level pass, so only a suspect statement has its values inspected."""
    if "\\x00" not in repr(parameters):
        return
    rows = parameters if isinstance(parameters, list) else [parameters]
    for row in rows:
        values = row.values() if isinstance(row, dict) else row
        if any(isinstance(v, str) and "\x00" in v for v in values):
            raise _nul_refused("a text value")


def engine_options(
    s: Settings, *, name: str, connect_timeout: int, statement_timeout_ms: int
) -> dict[str, Any]:
    """create_engine keyword arguments for the configured dialect (pool sizes left out)."""
    if not s.is_mysql:
        return {
            "pool_pre_ping": True,
            "connect_args": {
                "connect_timeout": connect_timeout,
                "options": f"-c statement_timeout={statement_timeout_ms}",
                "application_name": name,
            },
        }
    return {
        "pool_pre_ping": True,
        "isolation_level": "READ COMMITTED",
        "json_serializer": _json_without_nul,
        "connect_args": {
            "connect_timeout": connect_timeout,
            "program_name": name,
        },
    }


def configure_mysql_sessions(engine: Engine, statement_timeout_ms: int) -> None:
    """SET the session variables of every new MySQL/MariaDB connection (see module doc);
    a statement_timeout_ms of 0 sets no time limit (migrations)."""
    _map_check_violations()

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # PyMySQL drops tzinfo when it writes a datetime parameter: an aware value not bound
        # through a UtcDateTime column (text() SQL, JSON_TABLE documents) would be stored as
        # its wall-clock time. Converted to UTC first, it matches the session's time_zone.
        dbapi_conn.encoders = {**dbapi_conn.encoders, datetime: _escape_datetime_utc}
        # Every DATETIME of the schema holds UTC (models.base.UtcDateTime): read back aware,
        # as PostgreSQL's timestamptz is, also through plain text() SQL.
        dbapi_conn.decoders = {**dbapi_conn.decoders, _FIELD_DATETIME: _decode_datetime_utc}
        mariadb = "mariadb" in dbapi_conn.get_server_info().lower()
        # MariaDB limits any statement (seconds); MySQL limits SELECTs (milliseconds).
        limit = (
            f"max_statement_time={statement_timeout_ms / 1000:g}"
            if mariadb
            else f"max_execution_time={statement_timeout_ms}"
        )
        with dbapi_conn.cursor() as cur:
            # Literals compare like the columns: case- and accent-sensitive (models.mysql_ddl).
            cur.execute("SET NAMES utf8mb4 COLLATE utf8mb4_bin")
            cur.execute(f"SET SESSION sql_mode='{MYSQL_SQL_MODE}', time_zone='+00:00', {limit}")

    @event.listens_for(engine, "before_cursor_execute")
    def _before_execute(*args: Any) -> None:
        _refuse_nul_text(args[3])  # (conn, cursor, statement, parameters, context, many)


def _build(
    s: Settings, *, name: str, connect_timeout: int, statement_ms: int, **pool: Any
) -> Engine:
    engine = create_engine(
        s.database_url,
        **engine_options(
            s, name=name, connect_timeout=connect_timeout, statement_timeout_ms=statement_ms
        ),
        **pool,
    )
    if s.is_mysql:
        configure_mysql_sessions(engine, statement_ms)
    return engine


@lru_cache(maxsize=1)
def get_engine() -> Engine:
    """The process-wide engine, with connect and statement timeouts on every connection."""
    s = get_settings()
    return _build(
        s,
        name="contab",
        connect_timeout=5,
        statement_ms=s.DB_STATEMENT_TIMEOUT_MS,
        pool_size=s.DB_POOL_SIZE,
        max_overflow=s.DB_POOL_OVERFLOW,
    )


@lru_cache(maxsize=1)
def get_side_engine() -> Engine:
    """A tiny separate pool for health probes and bookkeeping writes.

    They must never queue behind requests for the main pool: under load a probe that waited for
    a checkout would report a healthy database as down, and a bookkeeping write taken from the
    pool a request already holds a connection of could wait for itself."""
    return _build(
        get_settings(),
        name="contab-side",
        connect_timeout=3,
        statement_ms=2000,
        pool_size=2,
        max_overflow=0,
        pool_timeout=0.5,
    )


@lru_cache(maxsize=1)
def get_sessionmaker() -> sessionmaker[Session]:
    """Session factory bound to :func:`get_engine`."""
    return sessionmaker(bind=get_engine(), expire_on_commit=False)


def reset_engine() -> None:
    """Dispose the engine (after a fork, or when tests change settings)."""
    for cached in (get_engine, get_side_engine):
        if cached.cache_info().currsize:
            cached().dispose()
        cached.cache_clear()
    get_sessionmaker.cache_clear()


@contextmanager
def session_scope() -> Iterator[Session]:
    """One transaction: commit on success, roll back on error, always close."""
    session = get_sessionmaker()()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
