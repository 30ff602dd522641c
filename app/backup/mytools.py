"""mariadb-dump / mysqldump and the mariadb / mysql client: the MySQL/MariaDB side of
:mod:`app.backup.pgtools` (DB_CONNECTION=mysql).

One consistent picture, as on PostgreSQL: ``--single-transaction`` dumps one InnoDB snapshot,
but MySQL cannot share a snapshot with another connection (no ``pg_export_snapshot``). So the
backup briefly holds ``FLUSH TABLES WITH READ LOCK`` on its own connection, opens its consistent
snapshot (row counts, files manifest, logs), starts the dump and releases the lock as soon as
the dump reports it is reading tables (its snapshot is open by then): no write commits between
the two snapshots, which are therefore the same. Writers wait for that moment only (well under a
second). Without the RELOAD privilege the lock is skipped and the catalogue says so
(``instantaneo_unico: false``): the counts may then differ from the dump's by the writes of the
moment.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pymysql

from app.errors import IntegrationError
from app.settings import Settings

__all__ = [
    "client_binary",
    "connect",
    "create_database",
    "drop_database",
    "dump_consistent",
    "restore_into",
    "row_counts",
    "scratch_database",
]

_DB_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# mariadb-dump --verbose prints this once its transaction (snapshot) is open and tables are read
_READING = re.compile(r"^-- (Retrieving table structure|Sending SELECT)")


def client_binary(tool: str) -> str:
    """``dump`` → mariadb-dump (else mysqldump); ``client`` → mariadb (else mysql)."""
    names = ("mariadb-dump", "mysqldump") if tool == "dump" else ("mariadb", "mysql")
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    raise IntegrationError(f"{names[0]} não encontrado", code="backup_sem_pg_dump")


def _env(settings: Settings) -> dict[str, str]:
    # the password travels by environment, never on the command line
    return {"MYSQL_PWD": settings.DB_PASSWORD.get_secret_value()}


def _conn_args(settings: Settings) -> list[str]:
    if settings.DB_HOST.startswith("/"):
        where = [f"--socket={settings.DB_HOST}"]
    else:
        where = [f"--host={settings.DB_HOST}", f"--port={settings.DB_PORT}", "--protocol=tcp"]
    return [*where, f"--user={settings.DB_USERNAME}", "--default-character-set=utf8mb4"]


def connect(settings: Settings, dbname: str | None = None) -> pymysql.connections.Connection:
    """A PyMySQL connection (dict rows, UTC session) to dbname (default: the live database)."""
    where: dict[str, Any] = (
        {"unix_socket": settings.DB_HOST}
        if settings.DB_HOST.startswith("/")
        else {"host": settings.DB_HOST, "port": settings.DB_PORT}
    )
    try:
        return pymysql.connect(
            **where,
            user=settings.DB_USERNAME,
            password=settings.DB_PASSWORD.get_secret_value(),
            database=dbname or settings.DB_DATABASE,
            charset="utf8mb4",
            connect_timeout=10,
            init_command="SET time_zone = '+00:00'",
            cursorclass=pymysql.cursors.DictCursor,
        )
    except pymysql.MySQLError as exc:
        raise IntegrationError(f"Banco indisponível: {exc}", code="backup_falhou") from exc


def _check_name(name: str) -> str:
    if not _DB_NAME.match(name):
        raise IntegrationError(
            f"Nome de banco inválido: {name!r} (use letras minúsculas, dígitos e _).",
            code="restauracao_nome_invalido",
        )
    return name


def create_database(settings: Settings, name: str) -> None:
    """CREATE DATABASE name (utf8mb4_bin, as the live one); refuses an existing name."""
    with connect(settings) as conn, conn.cursor() as cur:
        cur.execute("SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", (name,))
        if cur.fetchone():
            raise IntegrationError(
                f"O banco {name} já existe; escolha outro nome ou remova-o antes.",
                code="restauracao_banco_existe",
            )
        cur.execute(
            f"CREATE DATABASE `{_check_name(name)}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
        )


def drop_database(settings: Settings, name: str) -> None:
    """DROP DATABASE IF EXISTS name (scratch databases only; never the live one)."""
    if name == settings.DB_DATABASE:
        raise IntegrationError("Recusado: remover o banco em uso", code="restauracao_banco_vivo")
    with connect(settings) as conn, conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{_check_name(name)}`")


def _tables(conn: pymysql.connections.Connection) -> list[str]:
    with conn.cursor() as cur:
        cur.execute(
            "SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()"
            " AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME"
        )
        return [str(r["t"]) for r in cur.fetchall()]


def row_counts(conn: pymysql.connections.Connection) -> dict[str, int]:
    """Rows per table of the connection's database."""
    out: dict[str, int] = {}
    with conn.cursor() as cur:
        for t in _tables(conn):
            cur.execute(f"SELECT count(*) AS n FROM `{t}`")
            row = cur.fetchone()
            out[t] = int(row["n"]) if row else 0
    return out


@contextmanager
def dump_consistent(
    settings: Settings, target: Path, *, timeout: float = 3600
) -> Iterator[tuple[pymysql.connections.Connection, bool]]:
    """Dump the live database into ``target`` while yielding a connection whose snapshot is the
    dump's (see the module docstring) and whether that is guaranteed (the lock was taken)."""
    conn = connect(settings, settings.DB_DATABASE)
    try:
        with conn.cursor() as cur:
            try:
                cur.execute("FLUSH TABLES WITH READ LOCK")
                locked = True
            except pymysql.MySQLError:  # no RELOAD privilege: counts are of a close snapshot
                locked = False
            cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
        dump = _Dump(settings, target)
        if locked:
            dump.reading.wait(timeout)  # its snapshot is open: let the writers go
            with conn.cursor() as cur:
                cur.execute("UNLOCK TABLES")  # our transaction (snapshot) stays open
        try:
            yield conn, locked
        finally:
            dump.finish(timeout)
    finally:
        conn.close()


class _Dump:
    """A running mariadb-dump; stderr is read on a thread (a full pipe would stall it)."""

    def __init__(self, settings: Settings, target: Path) -> None:
        args = [
            client_binary("dump"), *_conn_args(settings), "--single-transaction", "--quick",
            "--routines", "--hex-blob", "--no-tablespaces", "--verbose",
            f"--result-file={target}", settings.DB_DATABASE,
        ]  # fmt: skip
        self.proc = subprocess.Popen(  # noqa: S603
            args, env=_env(settings), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        self.lines: list[str] = []
        self.reading = threading.Event()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)
            if _READING.match(line):
                self.reading.set()
        self.reading.set()  # ended (maybe failed): nobody waits any longer

    def finish(self, timeout: float) -> None:
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            self.proc.kill()
            raise IntegrationError(
                "mariadb-dump excedeu o tempo limite", code="backup_falhou"
            ) from exc
        self.reader.join(5)
        if code != 0:
            real = [ln for ln in self.lines if ln.strip() and not ln.startswith("--")]
            raise IntegrationError(
                f"mariadb-dump falhou: {''.join(real)[-500:]}", code="backup_falhou"
            )


def restore_into(
    settings: Settings, dump_file: Path, dbname: str, *, clean: bool = False, timeout: float = 3600
) -> None:
    """Load the dump into dbname with the mariadb/mysql client (the dump drops and recreates
    each table, so ``clean`` needs nothing more)."""
    with dump_file.open("rb") as src:
        proc = subprocess.run(  # noqa: S603
            [client_binary("client"), *_conn_args(settings), _check_name(dbname)],
            stdin=src, env=_env(settings), capture_output=True, timeout=timeout, check=False,
        )  # fmt: skip
    if proc.returncode != 0:
        raise IntegrationError(
            f"restauração falhou: {proc.stderr.decode(errors='replace')[-500:]}",
            code="restauracao_falhou",
        )


@contextmanager
def scratch_database(settings: Settings, name: str, dump_file: Path) -> Iterator[str]:
    """A throw-away database restored from dump_file, dropped afterwards."""
    drop_database(settings, name)
    create_database(settings, name)
    try:
        restore_into(settings, dump_file, name)
        yield name
    finally:
        drop_database(settings, name)
