"""Test harness: real PostgreSQL (or MariaDB), Redis, S3 and SMTP; one Prefect server per session.

Services on localhost are used when they answer (127.0.0.1:5432 / 6379); otherwise embedded ones
are started from wheels under var/test/. ``CONTAB_TEST_DB=mysql`` runs the suite on MariaDB/MySQL
(127.0.0.1:3306, else a private MariaDB from the machine's packages, docs/mysql.md); PostgreSQL is
still started then, for the Prefect server's own database. The environment is set in ``pytest_configure`` — before
any test module imports Prefect or the settings — so every layer sees the same configuration.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TEST_VAR = ROOT / "var" / "test"
# One database per test process, so parallel runs (developers, CI) never collide.
TEST_DB = f"contab_test_{os.getpid()}"
# Which office database the suite runs on: postgres (default) or mysql.
TEST_DIALECT = os.environ.get("CONTAB_TEST_DB", "postgres").strip().lower()

_state: dict[str, object] = {}


def pytest_configure(config: pytest.Config) -> None:
    """Start (or find) PostgreSQL and Redis, create and migrate the test database."""
    from app.localservices import (
        create_database,
        ensure_postgres,
        ensure_redis,
        free_port,
        port_open,
    )

    TEST_VAR.mkdir(parents=True, exist_ok=True)
    pg_port = 5432 if port_open("127.0.0.1", 5432) else 55432
    redis_port = 6379 if port_open("127.0.0.1", 6379) else 56379
    tmp = Path(tempfile.mkdtemp(prefix="contab-test-"))
    _state["tmp"] = tmp
    prefect_port = free_port()
    os.environ.update(
        {
            "APP_ENV": "dev",
            "APP_KEY": "test-" + secrets.token_urlsafe(32),
            "DB_HOST": "127.0.0.1",
            "DB_PORT": str(pg_port),
            "DB_DATABASE": TEST_DB,
            "DB_USERNAME": "postgres",
            "DB_PASSWORD": "",
            "REDIS_HOST": "127.0.0.1",
            "REDIS_PORT": str(redis_port),
            "REDIS_DB": "9",
            "FILESYSTEM_DISK": "local",
            "STORAGE_LOCAL_ROOT": str(tmp / "storage"),
            "MAIL_HOST": "127.0.0.1",
            "MAIL_PORT": str(free_port()),
            "LOG_LEVEL": "INFO",
            "PREFECT_API_URL": f"http://127.0.0.1:{prefect_port}/api",
            "PREFECT_HOME": str(tmp / "prefect"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_LOGGING_TO_API_BATCH_INTERVAL": "0.3",
            "CONTAB_HOME": str(ROOT),
        }
    )
    _state["prefect_port"] = prefect_port
    from app.settings import get_settings

    get_settings.cache_clear()
    _state["pg"] = ensure_postgres("127.0.0.1", pg_port, TEST_VAR / "pg")
    _state["redis"] = ensure_redis("127.0.0.1", redis_port, TEST_VAR / "redis")
    admin = f"postgresql://postgres@127.0.0.1:{pg_port}/postgres"
    _state["admin"] = admin  # PostgreSQL: the Prefect server's database in either mode
    if TEST_DIALECT == "mysql":
        admin = _use_mysql()
    elif TEST_DIALECT not in ("postgres", "pgsql", "postgresql"):
        raise pytest.UsageError(f"CONTAB_TEST_DB={TEST_DIALECT!r}: use postgres or mysql")
    _state["db_admin"] = admin
    create_database(admin, TEST_DB, drop=True)
    from app.migrate import upgrade

    upgrade()


def _use_mysql() -> str:
    """Point the settings at MariaDB/MySQL (started privately when none answers); its admin DSN."""
    from app.localmariadb import ensure_mariadb
    from app.localservices import port_open
    from app.settings import get_settings

    port = 3306 if port_open("127.0.0.1", 3306) else 53306
    _state["mariadb"] = ensure_mariadb("127.0.0.1", port, TEST_VAR / "mariadb")
    os.environ.update({"DB_CONNECTION": "mysql", "DB_PORT": str(port), "DB_USERNAME": "root"})
    get_settings.cache_clear()
    return f"mysql://root@127.0.0.1:{port}"


@pytest.fixture(scope="session")
def mysql_admin() -> str:
    """Admin DSN of a MariaDB/MySQL in either mode (CONTAB_TEST_DB): the suite's one, else
    127.0.0.1:3306, else a private MariaDB (stopped at the end of the session)."""
    admin = str(_state.get("db_admin", ""))
    if admin.startswith("mysql"):
        return admin
    from app.localmariadb import ensure_mariadb
    from app.localservices import port_open

    port = 3306 if port_open("127.0.0.1", 3306) else 53306
    _state["mariadb"] = ensure_mariadb("127.0.0.1", port, TEST_VAR / "mariadb")
    return f"mysql://root@127.0.0.1:{port}"


def pytest_unconfigure(config: pytest.Config) -> None:
    """Stop what the session started."""
    from app.localservices import stop_postgres

    platform = _state.pop("platform", None)
    if platform is not None:
        platform.down()  # type: ignore[attr-defined]
    from app.localservices import drop_database

    db_admin = str(_state.get("db_admin", _state["admin"]))
    for admin, name in (
        (db_admin, TEST_DB),
        (str(_state["admin"]), f"{TEST_DB}_prefect"),
        (db_admin, f"{TEST_DB}_migrations"),
        (db_admin, f"{TEST_DB}_m0008"),
    ):
        try:
            drop_database(admin, name)
        except Exception:  # noqa: BLE001 - best effort when the server is already gone
            pass
    mariadb = _state.get("mariadb")
    if mariadb is not None:
        from app.localmariadb import stop_mariadb

        stop_mariadb(mariadb)  # type: ignore[arg-type]
    redis_info = _state.get("redis")
    if redis_info is not None and getattr(redis_info, "proc", None) is not None:
        redis_info.proc.terminate()  # type: ignore[attr-defined]
    pg = _state.get("pg")
    if pg is not None:
        stop_postgres(pg)  # type: ignore[arg-type]
    tmp = _state.get("tmp")
    if tmp:
        shutil.rmtree(str(tmp), ignore_errors=True)


# ---------------------------------------------------------------- database


TABLES_TO_KEEP: set[str] = {"alembic_version"}


def truncate_all() -> None:
    """Empty every table (for tests whose code commits through session_scope)."""
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    import models
    from app.db import get_engine

    names = [t.name for t in models.Base.metadata.sorted_tables if t.name not in TABLES_TO_KEEP]
    if get_engine().dialect.name in ("mysql", "mariadb"):
        _truncate_mysql(names)
        return
    for attempt in range(5):
        try:
            with get_engine().begin() as conn:
                conn.execute(text(f"TRUNCATE {', '.join(names)} RESTART IDENTITY CASCADE"))
            return
        except OperationalError as exc:
            # An e2e flow run may still be finishing its transaction when a test ends: TRUNCATE
            # can then lose a deadlock to it (seen once in CI). The other side commits; retry.
            if "deadlock detected" not in str(exc) or attempt == 4:
                raise
            time.sleep(0.5 * (attempt + 1))


def _truncate_mysql(names: list[str]) -> None:
    """MySQL: no multi-table TRUNCATE and no CASCADE, so foreign keys are unchecked meanwhile.
    TRUNCATE (which also resets AUTO_INCREMENT, as RESTART IDENTITY does) only the tables that
    hold rows or whose counter moved: each TRUNCATE recreates its table."""
    from sqlalchemy import text

    from app.db import get_engine

    with get_engine().connect() as conn:
        moved = {
            name
            for name, counter in conn.execute(
                text(
                    "SELECT table_name, auto_increment FROM information_schema.tables"
                    " WHERE table_schema = DATABASE()"
                )
            )
            if counter and counter > 1
        }
        probe = " UNION ALL ".join(f"(SELECT '{n}' FROM `{n}` LIMIT 1)" for n in names)
        filled = set(conn.scalars(text(probe)))
        conn.execute(text("SET FOREIGN_KEY_CHECKS = 0"))
        try:
            for name in names:
                if name in moved or name in filled:
                    conn.execute(text(f"TRUNCATE TABLE `{name}`"))
        finally:
            conn.execute(text("SET FOREIGN_KEY_CHECKS = 1"))
            conn.commit()


@pytest.fixture
def db() -> Iterator[object]:
    """A Session inside a transaction rolled back after the test (services layer)."""
    from sqlalchemy.orm import Session

    from app.db import get_engine

    conn = get_engine().connect()
    trans = conn.begin()
    session = Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield session
    finally:
        session.close()
        trans.rollback()
        conn.close()


@pytest.fixture
def clean_db() -> Iterator[None]:
    """Empty tables before and after a test that commits for real (tasks, flows, API)."""
    truncate_all()
    yield
    truncate_all()


@pytest.fixture
def redis_client() -> Iterator[object]:
    """The configured Redis (test DB 9), flushed after the test."""
    from app.cache import get_redis

    client = get_redis()
    yield client
    client.flushdb()


# ---------------------------------------------------------------- Prefect / platform


@pytest.fixture(scope="session")
def platform() -> Iterator[object]:
    """The whole platform (Prefect server on PostgreSQL, pools, deployments, workers, API)."""
    from app.devstack import DevStack
    from app.localservices import free_port
    from app.settings import get_settings

    existing = _state.get("platform")
    if existing is not None:
        yield existing
        return
    prefect_url = None
    if TEST_DIALECT == "mysql":  # Prefect has no MySQL support: its database stays PostgreSQL
        from app.localservices import create_database

        admin = str(_state["admin"])
        create_database(admin, f"{TEST_DB}_prefect", drop=True)
        base = admin.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
        prefect_url = f"{base}/{TEST_DB}_prefect"
    stack = DevStack(
        settings=get_settings(),
        prefect_database_url=prefect_url,
        var_dir=Path(str(_state["tmp"])) / "var",
        api_port=free_port(),
        prefect_port=int(str(_state["prefect_port"])),
        mail_http_port=free_port(),
        prefect_db=f"{TEST_DB}_prefect",
        # Deployments keep their schedules, but the server creates no scheduled runs: a run
        # of enviar-notificacoes every 60 s against the test database raced the tests that
        # deliver or truncate themselves (seen in CI). E2E tests trigger every run they need.
        env={"PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false"},
    )
    stack.up(log=lambda *_: None)
    _state["platform"] = stack
    yield stack


@pytest.fixture
def api_client() -> Iterator[object]:
    """An in-process HTTP client for the FastAPI app (real DB/Redis/storage behind it)."""
    from fastapi.testclient import TestClient

    from app.api.main import create_app

    with TestClient(create_app()) as client:
        yield client


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """End-to-end tests run last (stable order otherwise): once the session's platform is up,
    its API's upload dispatcher consumes the Redis wake-ups of this test database, which the
    service tests of announce() read themselves."""
    items.sort(key=lambda item: item.get_closest_marker("e2e") is not None)
