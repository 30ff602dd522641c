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

__all__ = ["get_engine", "get_sessionmaker", "session_scope", "reset_engine"]


@lru_cache(maxsize=1)
def get_engine() -> Engine:
    """The process-wide engine, with connect and statement timeouts on every connection."""
    s = get_settings()
    return create_engine(
        s.database_url,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=10,
        connect_args={
            "connect_timeout": 5,
            "options": f"-c statement_timeout={s.DB_STATEMENT_TIMEOUT_MS}",
            "application_name": "contab",
        },
    )


@lru_cache(maxsize=1)
def get_sessionmaker() -> sessionmaker[Session]:
    """Session factory bound to :func:`get_engine`."""
    return sessionmaker(bind=get_engine(), expire_on_commit=False)


def reset_engine() -> None:
    """Dispose the engine (after a fork, or when tests change settings)."""
    if get_engine.cache_info().currsize:
        get_engine().dispose()
    get_engine.cache_clear()
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
