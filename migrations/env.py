"""Alembic environment: the URL comes from contab's settings (or -x url=… / config).

One migration tree for PostgreSQL and MySQL/MariaDB: importing ``models`` registers the MySQL
spelling of the PostgreSQL types and defaults (:mod:`models.mysql_ddl`), so the revisions run
unchanged on both (docs/mysql.md).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

import app.migrate  # autogenerate rules for MySQL, render_item
import models
from app.db import configure_mysql_sessions
from app.settings import get_settings

config = context.config
target_metadata = models.Base.metadata


def _url() -> str:
    x = context.get_x_argument(as_dictionary=True)
    return x.get("url") or config.get_main_option("sqlalchemy.url") or get_settings().database_url


def run_migrations_offline() -> None:
    """Emit SQL (used by `contab migrate --dry-run` for the manual gate)."""
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        compare_type=True,
        render_item=app.migrate.render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Apply migrations on a live connection (one transaction, advisory-locked)."""
    connectable = config.attributes.get("connection")
    if connectable is None:
        engine = engine_from_config(
            {"sqlalchemy.url": _url()}, prefix="sqlalchemy.", poolclass=pool.NullPool
        )
        if engine.dialect.name in ("mysql", "mariadb"):
            # strict sql_mode, UTC and utf8mb4_bin as in the app; no time limit on a migration
            configure_mysql_sessions(engine, 0)
        with engine.connect() as connection:
            _run(connection)
        engine.dispose()
    else:
        _run(connectable)


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        render_item=app.migrate.render_item,
    )
    if connection.dialect.name in ("mysql", "mariadb"):
        _run_mysql(connection)
        return
    with context.begin_transaction():
        # Two deploy jobs never migrate at once.
        connection.exec_driver_sql("SELECT pg_advisory_xact_lock(727274)")
        context.run_migrations()


def _run_mysql(connection) -> None:  # type: ignore[no-untyped-def]
    """MySQL commits each DDL statement itself: a session lock (not a transaction) keeps two
    deploy jobs apart, and an interrupted upgrade stops at the last revision that finished."""
    got = connection.exec_driver_sql("SELECT GET_LOCK('contab-migrate', 600)").scalar()
    if got != 1:
        raise RuntimeError("outra migração está em andamento (GET_LOCK contab-migrate)")
    try:
        with context.begin_transaction():
            context.run_migrations()
    finally:
        connection.exec_driver_sql("SELECT RELEASE_LOCK('contab-migrate')")


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
