"""Database engine and sessions (SQLAlchemy 2, psycopg 3, sync).

Nothing is built at import time: the engine is created on first use from the settings. Services
take a ``Session`` and never commit; the caller (a task, a route) owns the transaction through
:func:`session_scope`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

from app.settings import get_settings

__all__ = ["get_engine", "get_side_engine", "get_sessionmaker", "session_scope", "reset_engine"]


@lru_cache(maxsize=1)
def get_engine() -> Engine:
    """The process-wide engine, with connect and statement timeouts on every connection."""
    s = get_settings()
    return create_engine(
        s.database_url,
        pool_pre_ping=True,
        pool_size=s.DB_POOL_SIZE,
        max_overflow=s.DB_POOL_OVERFLOW,
        connect_args={
            "connect_timeout": 5,
            "options": f"-c statement_timeout={s.DB_STATEMENT_TIMEOUT_MS}",
            "application_name": "contab",
        },
    )


@lru_cache(maxsize=1)
def get_side_engine() -> Engine:
    """A tiny separate pool for health probes and bookkeeping writes.

    They must never queue behind requests for the main pool: under load a probe that waited for
    a checkout would report a healthy database as down, and a bookkeeping write taken from the
    pool a request already holds a connection of could wait for itself."""
    s = get_settings()
    return create_engine(
        s.database_url,
        pool_pre_ping=True,
        pool_size=2,
        max_overflow=0,
        pool_timeout=0.5,
        connect_args={
            "connect_timeout": 3,
            "options": "-c statement_timeout=2000",
            "application_name": "contab-side",
        },
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
