"""The whole platform on one machine, with embedded defaults (`make dev`, e2e tests).

Brings up, in order: PostgreSQL (the configured one, or embedded under var/), the contab and
Prefect databases, migrations (the guide's DEV rule: automatic), Redis (configured or embedded),
local storage (storage/app), a Mailpit-like SMTP sink with a web inbox, a Prefect server on
PostgreSQL, the four work pools, every deployment of prefect.yaml and the automations of
deployments/automations.yaml (dead-run detection and resumption), one worker per pool, and the
API. `down()` stops everything it started, in reverse order.

With DB_CONNECTION=mysql the office database is the configured MariaDB/MySQL, or a private
MariaDB under var/mariadb (:mod:`app.localmariadb`); the Prefect server keeps a database of its
own — SQLite under var/prefect, or ``prefect_database_url`` — since Prefect has no MySQL support.
"""

from __future__ import annotations

import os
import secrets
import sys
from dataclasses import dataclass, field
from pathlib import Path

from app.deployments import POOLS
from app.localmariadb import MariaDBInfo, ensure_mariadb, stop_mariadb
from app.localservices import (
    PostgresInfo,
    RedisInfo,
    Supervisor,
    admin_dsn,
    create_database,
    ensure_postgres,
    ensure_redis,
    port_open,
    stop_postgres,
    venv_bin,
    wait_for_http,
)
from app.settings import PROJECT_ROOT, Settings

__all__ = ["DevStack", "prefect_env"]


def prefect_env(api_url: str, prefect_home: Path, db_url: str | None = None) -> dict[str, str]:
    """Environment for Prefect server/worker/client processes on this machine (PREFECT.md)."""
    env = {
        "PREFECT_API_URL": api_url,
        "PREFECT_HOME": str(prefect_home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "PREFECT_WORKER_PREFETCH_SECONDS": "1",
        "PREFECT_LOGGING_LEVEL": "INFO",
        "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE": "200",
        "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_READ_BATCH_SIZE": "100",
        "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_BATCH_SIZE": "500",
        "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_READ_BATCH_SIZE": "100",
        "PREFECT_SERVER_SERVICES_TRIGGERS_READ_BATCH_SIZE": "100",
        "PREFECT_CLI_COLORS": "false",
    }
    if db_url:
        env["PREFECT_SERVER_DATABASE_CONNECTION_URL"] = db_url
    return env


def _origin(started: bool) -> str:
    return "embutido" if started else "existente"


@dataclass
class DevStack:
    """Configuration of one local platform instance (ports and folders are parameters)."""

    settings: Settings
    var_dir: Path = PROJECT_ROOT / "var"
    api_port: int = 8000
    prefect_port: int = 4200
    mail_http_port: int = 8025
    prefect_db: str = "contab_prefect"
    start_api: bool = True
    start_workers: bool = True
    supervisor: Supervisor = field(init=False)
    pg: PostgresInfo | None = None
    mariadb: MariaDBInfo | None = None
    # DB_CONNECTION=mysql: the Prefect server's database (None: SQLite under var/prefect)
    prefect_database_url: str | None = None
    redis: RedisInfo | None = None
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.supervisor = Supervisor(self.var_dir / "log", self.env)

    # ---------------------------------------------------------------- steps
    @property
    def prefect_api_url(self) -> str:
        """URL of the local Prefect API."""
        return f"http://127.0.0.1:{self.prefect_port}/api"

    def _app_key(self) -> str:
        key = self.settings.APP_KEY.get_secret_value()
        if key:
            return key
        path = self.var_dir / "dev_app_key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()

    def up(self, log: object = print) -> None:
        """Start everything; raises (after stopping what started) when a step fails."""
        say = log if callable(log) else print
        s = self.settings
        try:
            if s.is_mysql:
                prefect_db_url = self._office_mysql(say)
            else:
                self.pg = ensure_postgres(
                    s.DB_HOST, s.DB_PORT, self.var_dir / "pg", user=s.DB_USERNAME
                )
                say(f"PostgreSQL: {s.DB_HOST}:{s.DB_PORT} ({_origin(self.pg.started)})")
                admin = s.database_url.replace("postgresql+psycopg://", "postgresql://")
                admin = admin.rsplit("/", 1)[0]
                create_database(f"{admin}/postgres", s.DB_DATABASE)
                create_database(f"{admin}/postgres", self.prefect_db)
                prefect_db_url = (
                    f"{admin.replace('postgresql://', 'postgresql+asyncpg://')}/{self.prefect_db}"
                )
            self.redis = ensure_redis(
                s.REDIS_HOST, s.REDIS_PORT, self.var_dir / "redis",
                password=s.REDIS_PASSWORD.get_secret_value(),
            )  # fmt: skip
            say(f"Redis: {s.REDIS_HOST}:{s.REDIS_PORT} ({_origin(self.redis.proc is not None)})")
            self.env.update(
                prefect_env(self.prefect_api_url, self.var_dir / "prefect", prefect_db_url)
            )
            self.env.update(
                {
                    "APP_KEY": self._app_key(),
                    "PREFECT_API_URL": self.prefect_api_url,
                    "CONTAB_HOME": str(PROJECT_ROOT),
                    "APP_URL": f"http://127.0.0.1:{self.api_port}",
                }
            )
            os.environ.update(self.env)  # for the in-process client calls below
            from app.settings import get_settings

            get_settings.cache_clear()
            self._migrate()
            say("Migrações aplicadas")
            s.storage_root.mkdir(parents=True, exist_ok=True)
            if s.MAIL_HOST in {"127.0.0.1", "localhost"} and not port_open(
                s.MAIL_HOST, s.MAIL_PORT
            ):
                self.supervisor.start(
                    "mailsink",
                    [
                        sys.executable, "-m", "app.notify.mailsink",
                        "--smtp-port", str(s.MAIL_PORT),
                        "--http-port", str(self.mail_http_port),
                        "--dir", str(self.var_dir / "mail"),
                    ],
                    cwd=PROJECT_ROOT,
                )  # fmt: skip
            server = self.supervisor.start(
                "prefect-server",
                [venv_bin("prefect"), "server", "start", "--host", "127.0.0.1",
                 "--port", str(self.prefect_port)],
                cwd=PROJECT_ROOT,
            )  # fmt: skip
            wait_for_http(f"{self.prefect_api_url}/health", 300, server.proc)  # slow on busy hosts
            say(f"Prefect server: http://127.0.0.1:{self.prefect_port}")
            from app.prefect_ops import deploy

            report = deploy(PROJECT_ROOT, env=self.env)
            say(f"Implantações: {', '.join(report.deployments)}")
            labels = {"created": "criadas", "updated": "atualizadas", "unchanged": "inalteradas",
                      "removed": "removidas"}  # fmt: skip
            changes = [f"{labels[k]} {', '.join(v)}" for k, v in report.automations.items() if v]
            say(f"Automações: {'; '.join(changes) or 'nenhuma'}")
            if self.start_workers:
                for pool in POOLS:
                    self.supervisor.start(
                        f"worker-{pool}",
                        [venv_bin("prefect"), "worker", "start", "--pool", pool,
                         "--type", "process", "--name", f"dev-{pool}"],
                        cwd=PROJECT_ROOT,
                        signals_to_stop=2,
                    )  # fmt: skip
            if self.start_api:
                api = self.supervisor.start(
                    "api",
                    [venv_bin("uvicorn"), "app.api.main:app", "--host", "127.0.0.1",
                     "--port", str(self.api_port), "--no-access-log"],
                    cwd=PROJECT_ROOT,
                )  # fmt: skip
                wait_for_http(f"http://127.0.0.1:{self.api_port}/api/live", 180, api.proc)
        except BaseException:
            self.down()
            raise

    def _office_mysql(self, say: object) -> str | None:
        """DB_CONNECTION=mysql: the configured MariaDB/MySQL, or a private MariaDB under var/;
        returns the Prefect server's database URL (None: SQLite)."""
        s = self.settings
        log = say if callable(say) else print
        self.mariadb = ensure_mariadb(s.DB_HOST, s.DB_PORT, self.var_dir / "mariadb")
        log(f"MariaDB/MySQL: {s.DB_HOST}:{s.DB_PORT} ({_origin(self.mariadb.started)})")
        create_database(admin_dsn(s.database_url), s.DB_DATABASE)
        where = self.prefect_database_url or f"SQLite em {self.var_dir / 'prefect'}"
        log(f"Prefect server: banco próprio ({where.split('@')[-1]}): o Prefect não suporta MySQL")
        return self.prefect_database_url

    def _migrate(self) -> None:
        from app.migrate import upgrade

        upgrade()

    def down(self) -> None:
        """Stop every process this stack started (workers get two SIGTERMs), then the DBs."""
        self.supervisor.stop_all()
        if self.redis is not None and self.redis.proc is not None:
            self.redis.proc.terminate()
            try:
                self.redis.proc.wait(5)
            except Exception:  # noqa: BLE001
                self.redis.proc.kill()
            self.redis = None
        if self.pg is not None:
            stop_postgres(self.pg)
            self.pg = None
        if self.mariadb is not None:
            stop_mariadb(self.mariadb)
            self.mariadb = None
