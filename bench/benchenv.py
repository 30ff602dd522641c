"""Shared set-up of the benchmarks: real PostgreSQL/Redis (local or embedded), a fresh database.

Each bench calls :func:`setup` before importing anything that reads the settings.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def setup(
    database: str, tmp: Path, *, redis: bool = True, db: str = "postgres", **extra_env: str
) -> dict[str, str]:
    """Point the settings at a fresh migrated ``database``; returns the environment it set.

    ``db="mysql"``: the office database is MariaDB/MySQL (127.0.0.1:3306, else a private
    MariaDB under var/bench); PostgreSQL still runs (Prefect's own database): ``PG_PORT``."""
    from app.localservices import create_database, ensure_postgres, ensure_redis, port_open

    var = ROOT / "var" / "bench"
    var.mkdir(parents=True, exist_ok=True)
    pg_port = 5432 if port_open("127.0.0.1", 5432) else 55432
    redis_port = 6379 if port_open("127.0.0.1", 6379) else 56379
    env = {
        "APP_ENV": "dev",
        "APP_KEY": "bench-" + secrets.token_urlsafe(32),
        "DB_HOST": "127.0.0.1",
        "DB_PORT": str(pg_port),
        "DB_DATABASE": database,
        "DB_USERNAME": "postgres",
        "DB_PASSWORD": "",
        "REDIS_HOST": "127.0.0.1",
        "REDIS_PORT": str(redis_port),
        "FILESYSTEM_DISK": "local",
        "STORAGE_LOCAL_ROOT": str(tmp / "storage"),
        "PREFECT_HOME": str(tmp / "prefect"),
        **extra_env,
    }
    os.environ.update(env)
    from app.settings import get_settings

    get_settings.cache_clear()
    ensure_postgres("127.0.0.1", pg_port, var / "pg")
    if redis:
        ensure_redis("127.0.0.1", redis_port, var / "redis")
    env["PG_PORT"] = str(pg_port)
    admin = f"postgresql://postgres@127.0.0.1:{pg_port}/postgres"
    if db == "mysql":
        from app.localmariadb import ensure_mariadb

        my_port = 3306 if port_open("127.0.0.1", 3306) else 53306
        ensure_mariadb("127.0.0.1", my_port, var / "mariadb")
        my = {"DB_CONNECTION": "mysql", "DB_PORT": str(my_port), "DB_USERNAME": "root"}
        env.update(my)
        os.environ.update(my)
        get_settings.cache_clear()
        admin = f"mysql://root@127.0.0.1:{my_port}"
    create_database(admin, database, drop=True)
    from app.migrate import upgrade

    upgrade()
    return env
