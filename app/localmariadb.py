"""A private MariaDB for DEV and tests (DB_CONNECTION=mysql), like the embedded PostgreSQL.

When nothing answers on the configured host and port, `make dev` and the test suite start
``mariadbd`` from the machine's Debian package `mariadb-server` (`make mariadb` installs it), with
its data under var/ and listening on loopback only. docs/mysql.md.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from app.localservices import port_open

__all__ = ["MariaDBInfo", "ensure_mariadb", "stop_mariadb"]


@dataclass
class MariaDBInfo:
    """Where a MariaDB/MySQL server answers, and the process when we started it."""

    host: str
    port: int
    user: str
    started: bool
    datadir: Path | None = None
    proc: subprocess.Popen[bytes] | None = None


def _mariadb_binary(*names: str) -> str | None:
    for name in names:
        found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
        if found:
            return found
    return None


def ensure_mariadb(host: str, port: int, data_dir: Path, *, user: str = "root") -> MariaDBInfo:
    """Use the MariaDB/MySQL at host:port, or start a private MariaDB listening there.

    The private server comes from the machine's packages (`mariadbd` + `mariadb-install-db`,
    Debian `mariadb-server`), keeps its data in data_dir, listens on loopback only, and lets
    ``root`` in without a password (DEV and tests only): utf8mb4_bin, strict sql_mode, UTC."""
    if port_open(host, port):
        return MariaDBInfo(host=host, port=port, user=user, started=False)
    if host not in {"127.0.0.1", "localhost"}:
        raise RuntimeError(f"MariaDB/MySQL em {host}:{port} não responde")
    server = _mariadb_binary("mariadbd", "mysqld")
    install = _mariadb_binary("mariadb-install-db", "mysql_install_db")
    if not server or not install:
        raise RuntimeError(
            "MariaDB não encontrado: instale o pacote Debian 'mariadb-server' (`make mariadb`)"
        )
    data_dir.mkdir(parents=True, exist_ok=True)
    # As root, mariadbd runs as root only when told so; the private server's files stay the
    # caller's (a package user could not reach a data dir under a private 0700 folder).
    run_as = ["--user=root"] if os.geteuid() == 0 else []
    if not (data_dir / "mysql").exists():
        done = subprocess.run(  # noqa: S603
            [install, "--no-defaults", f"--datadir={data_dir}", "--skip-test-db",
             "--auth-root-authentication-method=normal", *run_as],
            capture_output=True, text=True, timeout=180, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"mariadb-install-db falhou: {done.stderr.strip()[-500:]}")
    proc = subprocess.Popen(  # noqa: S603
        [server, "--no-defaults", f"--datadir={data_dir}", f"--port={port}",
         "--bind-address=127.0.0.1", f"--socket={data_dir / 'mysqld.sock'}",
         f"--pid-file={data_dir / 'mysqld.pid'}", f"--log-error={data_dir / 'server.log'}",
         "--character-set-server=utf8mb4", "--collation-server=utf8mb4_bin",
         "--sql-mode=STRICT_ALL_TABLES,STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,"
         "ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION",
         "--default-time-zone=+00:00", "--max-connections=500",
         # a private DEV/test server: durability of the last second is not worth an fsync each
         "--innodb-flush-log-at-trx-commit=2", *run_as],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 90
    while not port_open(host, port):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"MariaDB privado não iniciou (log em {data_dir / 'server.log'})")
        time.sleep(0.1)
    return MariaDBInfo(host=host, port=port, user=user, started=True, datadir=data_dir, proc=proc)


def stop_mariadb(info: MariaDBInfo) -> None:
    """Stop a private server we started (SIGTERM is MariaDB's clean shutdown)."""
    if not info.started or info.proc is None:
        return
    info.proc.terminate()
    try:
        info.proc.wait(60)
    except subprocess.TimeoutExpired:
        info.proc.kill()
        info.proc.wait(5)
