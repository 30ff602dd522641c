"""What `contab check` verifies on a MySQL/MariaDB server (DB_CONNECTION=mysql, docs/mysql.md).

contab needs, and PostgreSQL always gives: ``SKIP LOCKED`` (MariaDB ≥ 10.6, MySQL ≥ 8.0; 8.0.16
for enforced CHECK constraints) for the
outbox and upload claims; utf8mb4 (all of Unicode); a case- and accent-sensitive collation, or
two CNPJ/chave/e-mail values that differ only in case or accents would collide under a unique
key (and compare equal in every lookup); strict ``sql_mode``, or an over-long or invalid value is
silently truncated or zeroed instead of refused. Each missing property is one named problem
(pt-BR, as operators read them); production refuses to start with any.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.settings import Settings

__all__ = [
    "MIN_MARIADB",
    "MIN_MYSQL",
    "database_problems",
    "ensure_database_safe",
    "mysql_problems",
    "sensitive_collation",
    "version_problem",
]

MIN_MARIADB = (10, 6, 0)
# 8.0.16: CHECK constraints enforced (parsed and ignored before); 8.0.13: expression defaults.
MIN_MYSQL = (8, 0, 16)
_STRICT = {"STRICT_ALL_TABLES", "STRICT_TRANS_TABLES"}
_LISTED = 10  # columns named in one problem; the rest are counted


def version_problem(version: str) -> str | None:
    """The problem with a server version string (``SELECT VERSION()``), or None when supported."""
    match = re.match(r"(\d+)\.(\d+)\.(\d+)", version)
    if not match:
        return f"versão do servidor não reconhecida: {version!r}"
    found = (int(match[1]), int(match[2]), int(match[3]))
    mariadb = "mariadb" in version.lower()
    minimum = MIN_MARIADB if mariadb else MIN_MYSQL
    if found < minimum:
        name = "MariaDB" if mariadb else "MySQL"
        why = "SELECT … FOR UPDATE SKIP LOCKED" if mariadb else "SKIP LOCKED e CHECK aplicados"
        return (
            f"{name} {'.'.join(map(str, found))} é antigo demais: contab precisa de {name} "
            f"≥ {'.'.join(map(str, minimum))} ({why})"
        )
    return None


def sensitive_collation(collation: str) -> bool:
    """True for a collation that tells case and accents apart (binary, or ``_as_cs``)."""
    c = collation.lower()
    return c.endswith("_bin") or "_as_cs" in c


def _charset_problem(what: str, charset: str, collation: str) -> list[str]:
    out = []
    if charset.lower() != "utf8mb4":
        out.append(f"{what} usa o charset {charset}; contab exige utf8mb4")
    if not sensitive_collation(collation):
        out.append(
            f"{what} usa a collation {collation}, que não distingue maiúsculas/acentos "
            "(CNPJ/chave distintos se fundiriam): use utf8mb4_bin"
        )
    return out


def _sql_mode_problem(scope: str, mode: str) -> str | None:
    if _STRICT & set(mode.upper().split(",")):
        return None
    return (
        f"sql_mode {scope} não é estrito ({mode or 'vazio'}): valores inválidos seriam "
        "truncados em silêncio; inclua STRICT_ALL_TABLES"
    )


def mysql_problems(conn: Any) -> list[str]:
    """Every problem of the server and database behind a MySQL/MariaDB SQLAlchemy connection
    (empty when contab can run on it): version, charset, collation, strict sql_mode."""
    from sqlalchemy import text

    version, session_mode, global_mode, charset, collation = conn.execute(
        text(
            "SELECT VERSION(), @@SESSION.sql_mode, @@GLOBAL.sql_mode,"
            " @@character_set_database, @@collation_database"
        )
    ).one()
    out: list[str] = []
    problem = version_problem(version)
    if problem:
        out.append(problem)
    out += _charset_problem("o banco de dados", charset, collation)
    for scope, mode in (("da sessão", session_mode), ("global do servidor", global_mode)):
        problem = _sql_mode_problem(scope, mode)
        if problem:
            out.append(problem)
    columns = conn.execute(
        text(
            "SELECT table_name, column_name, character_set_name, collation_name"
            " FROM information_schema.columns WHERE table_schema = DATABASE()"
            " AND collation_name IS NOT NULL ORDER BY table_name, ordinal_position"
        )
    ).all()
    bad = [
        f"{table}.{column} ({coll})"
        for table, column, cs, coll in columns
        if cs.lower() != "utf8mb4" or not sensitive_collation(coll)
    ]
    if bad:
        more = f" e mais {len(bad) - _LISTED}" if len(bad) > _LISTED else ""
        out.append(
            "colunas de texto fora de utf8mb4 ou sem collation sensível a maiúsculas/acentos: "
            f"{', '.join(bad[:_LISTED])}{more} (ALTER TABLE … CONVERT TO CHARACTER SET "
            "utf8mb4 COLLATE utf8mb4_bin)"
        )
    return out


def database_problems(settings: Settings) -> list[str]:
    """The database's problems for these settings (none to check on PostgreSQL); a MySQL server
    that cannot be reached is one problem, since nothing could be verified."""
    if not settings.is_mysql:
        return []
    from sqlalchemy import create_engine

    from app.db import configure_mysql_sessions, engine_options

    opts = engine_options(settings, name="contab-check", connect_timeout=5, statement_timeout_ms=0)
    engine = create_engine(settings.database_url, **opts)
    configure_mysql_sessions(engine, 0)
    try:
        with engine.connect() as conn:
            return mysql_problems(conn)
    except Exception as exc:  # noqa: BLE001 - reported as a problem, not a crash
        return [f"banco MySQL/MariaDB não verificado: {type(exc).__name__}: {exc}"]
    finally:
        engine.dispose()


def ensure_database_safe(settings: Settings) -> None:
    """Raise ConfigError with every database problem in production (elsewhere: nothing)."""
    from app.errors import ConfigError

    if settings.is_production:
        problems = database_problems(settings)
        if problems:
            raise ConfigError(problems)
