"""Settings read from the operations guide's environment variables (guide §3).

The guide's variables keep their exact names (APP_ENV, APP_KEY, DB_HOST, …). The few extra ones a
real deployment needs beside them (ports, S3 endpoint, mail credentials, app URL …) are documented
in ``.env.example``. ``APP_ENV`` selects the environment: ``dev``, ``homolog`` or ``production``
(the guide's DEV / HOMOLOGAÇÃO / PRODUÇÃO; ``local``/``homologacao``/``prod`` are accepted aliases).

In production :func:`Settings.problems` must be empty or the process refuses to start; every
problem is listed at once (:func:`ensure_safe`).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import quote_plus, urlparse

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.errors import ConfigError

__all__ = ["Settings", "ensure_safe", "get_settings", "PROJECT_ROOT"]

PROJECT_ROOT = Path(__file__).resolve().parent.parent

_ENV_ALIASES = {
    "dev": "dev",
    "local": "dev",
    "development": "dev",
    "homolog": "homolog",
    "homologacao": "homolog",
    "staging": "homolog",
    "production": "production",
    "producao": "production",
    "prod": "production",
}


class Settings(BaseSettings):
    """All configuration of contab; one instance per process via :func:`get_settings`."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=True
    )

    # --- the guide's variables (§3) ---
    APP_ENV: Literal["dev", "homolog", "production"] = "dev"
    APP_KEY: SecretStr = SecretStr("")
    # Laravel's name for the dialect: pgsql (PostgreSQL, default) or mysql (MySQL 8 / MariaDB
    # 10.6+, docs/mysql.md). DB_PORT and DB_USERNAME default to the dialect's when unset.
    DB_CONNECTION: Literal["pgsql", "mysql"] = "pgsql"
    DB_HOST: str = "127.0.0.1"
    DB_DATABASE: str = "contab"
    DB_USERNAME: str = "postgres"
    DB_PASSWORD: SecretStr = SecretStr("")
    REDIS_HOST: str = "127.0.0.1"
    REDIS_PASSWORD: SecretStr = SecretStr("")
    QUEUE_CONNECTION: Literal["redis", "prefect"] = "redis"
    CACHE_DRIVER: Literal["redis", "memory"] = "redis"
    FILESYSTEM_DISK: Literal["local", "s3"] = "local"
    S3_BUCKET: str = ""
    S3_ACCESS_KEY: SecretStr = SecretStr("")
    S3_SECRET_KEY: SecretStr = SecretStr("")
    S3_REGION: str = "us-east-1"
    MAIL_HOST: str = "127.0.0.1"
    MAIL_PORT: int = 1025
    WHATSAPP_API_KEY: SecretStr = SecretStr("")
    LOG_CHANNEL: str = "stack"

    # --- what a real deployment needs beside them ---
    APP_URL: str = "http://localhost:8000"
    APP_VERSION: str = "1.0.0"
    LOG_LEVEL: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    DB_PORT: int = 5432
    DB_SSLMODE: str = "prefer"
    DB_STATEMENT_TIMEOUT_MS: int = 60_000
    # Connections per process: the API's thread pool (40) never waits long on a checkout.
    DB_POOL_SIZE: int = Field(default=10, ge=1, le=200)
    DB_POOL_OVERFLOW: int = Field(default=20, ge=0, le=200)
    REDIS_PORT: int = 6379
    REDIS_DB: int = 0
    REDIS_TLS: bool = False
    # Redis with failover (guide §1.3): a Sentinel set ("host:port,host:port" of the sentinels and
    # the master name they monitor) or a Redis Cluster (seed nodes; REDIS_HOST:REDIS_PORT when
    # empty). Neither: REDIS_HOST/REDIS_PORT is the one server. REDIS_DB is ignored by a Cluster.
    REDIS_SENTINELS: str = ""
    REDIS_SENTINEL_MASTER: str = "contab"
    REDIS_SENTINEL_PASSWORD: SecretStr = SecretStr("")
    REDIS_CLUSTER: bool = False
    REDIS_CLUSTER_NODES: str = ""
    # Retries of a command on a connection error or timeout (exponential backoff, ≤ 2 s apart):
    # long enough to ride over a failover, short enough that a Redis really down fails fast.
    REDIS_RETRIES: int = Field(default=6, ge=0, le=30)
    STORAGE_LOCAL_ROOT: str = "storage/app"
    S3_ENDPOINT: str = ""
    S3_SSE: Literal["", "AES256", "aws:kms"] = ""
    SIGNED_URL_TTL_SECONDS: int = 900
    MAIL_USERNAME: str = ""
    MAIL_PASSWORD: SecretStr = SecretStr("")
    MAIL_SECURITY: Literal["none", "starttls", "ssl"] = "none"
    MAIL_FROM_ADDRESS: str = "nao-responda@contab.local"
    MAIL_FROM_NAME: str = "Escritório Contábil"
    MAIL_TIMEOUT_SECONDS: float = 10.0
    WHATSAPP_API_URL: str = "https://graph.facebook.com/v21.0"
    WHATSAPP_PHONE_NUMBER_ID: str = ""
    WHATSAPP_APP_SECRET: SecretStr = SecretStr("")
    WHATSAPP_VERIFY_TOKEN: SecretStr = SecretStr("")
    WHATSAPP_SANDBOX_ALLOWLIST: str = ""
    WHATSAPP_RATE_PER_SECOND: float = 80.0
    MAIL_RATE_PER_SECOND: float = Field(default=0.0, ge=0)  # 0 = no limit
    INGEST_WORKERS: int = Field(default=0, ge=0)  # 0 = one per CPU
    PREFECT_API_URL: str = "http://127.0.0.1:4200/api"
    HEALTH_CHECK_TIMEOUT_SECONDS: float = 1.5
    # Probe results are shared for this long (one probe per component in flight at a time).
    HEALTH_CACHE_SECONDS: float = Field(default=2.0, ge=0, le=30)
    WORKER_STALE_SECONDS: int = 90
    LOG_RETENTION_DAYS: int = Field(default=90, ge=1)
    UPLOAD_MAX_FILE_BYTES: int = 5 * 1024 * 1024
    UPLOAD_MAX_TOTAL_BYTES: int = 200 * 1024 * 1024
    OFFICE_TIMEZONE: str = "America/Sao_Paulo"
    # Backup target, separate from the data's storage (docs/backup.md).
    BACKUP_DISK: Literal["local", "s3"] = "local"
    BACKUP_LOCAL_ROOT: str = "storage/backups"
    BACKUP_S3_BUCKET: str = ""
    BACKUP_S3_ENDPOINT: str = ""
    BACKUP_S3_ACCESS_KEY: SecretStr = SecretStr("")
    BACKUP_S3_SECRET_KEY: SecretStr = SecretStr("")
    BACKUP_S3_REGION: str = "us-east-1"
    BACKUP_S3_SSE: Literal["", "AES256", "aws:kms"] = ""
    BACKUP_ENCRYPTION_KEY: SecretStr = SecretStr("")  # client-side AES-256-GCM when set
    BACKUP_KEEP_DAILY: int = Field(default=35, ge=1)
    # Accounting records are kept 5 years after the tax year (CTN art. 173/195): 7 covers it.
    BACKUP_KEEP_MONTHLY_YEARS: int = Field(default=7, ge=1)
    # --- monitoring (docs/monitoring.md) ---
    # GET /metrics answers a bearer METRICS_TOKEN, or clients of METRICS_ALLOW_NETWORKS (CIDRs,
    # comma separated, e.g. the Prometheus host) without one; with neither, it refuses everyone.
    METRICS_TOKEN: SecretStr = SecretStr("")
    METRICS_ALLOW_NETWORKS: str = ""
    # Metrics read from Prefect and the database are computed at most once per period.
    METRICS_CACHE_SECONDS: float = Field(default=15.0, ge=0, le=300)
    # Window of the "recent" counts: Failed/Crashed runs, failed deliveries.
    METRICS_WINDOW_MINUTES: int = Field(default=60, ge=1, le=1440)
    # The documents of competência M are due on this day of M+1 (later: a late request).
    DOCUMENTS_DUE_DAY: int = Field(default=10, ge=1, le=28)
    SENTRY_DSN: SecretStr = SecretStr("")
    SENTRY_TRACES_SAMPLE_RATE: float = Field(default=0.0, ge=0, le=1)
    # LOG_CHANNEL=stack|loki ships JSON lines to Loki's push API here (empty: console only).
    LOKI_URL: str = ""
    LOG_DIR: str = "storage/logs"  # LOG_CHANNEL=single|daily
    # Alert thresholds, rendered into deployments/monitoring/alerts.yml
    # (`contab monitoring render`).
    ALERT_QUEUE_LAG_SECONDS: int = Field(default=600, ge=1)
    ALERT_API_P95_SECONDS: float = Field(default=2.0, gt=0)
    ALERT_LATE_DOCUMENTS: int = Field(default=0, ge=0)  # fires above this many late requests
    # Operations contacts (comma-separated e-mails) the Prefect automations' alerts go to.
    OPS_ALERT_EMAILS: str = ""

    @field_validator("REDIS_SENTINELS", "REDIS_CLUSTER_NODES")
    @classmethod
    def _host_port_list(cls, value: str) -> str:
        _host_ports(value)  # raises ValueError on a malformed entry
        return value.strip()

    @model_validator(mode="after")
    def _dialect_defaults(self) -> Settings:
        # The port and user nobody set follow DB_CONNECTION (5432/postgres or 3306/root).
        if self.DB_CONNECTION == "mysql":
            if "DB_PORT" not in self.model_fields_set:
                self.DB_PORT = 3306
            if "DB_USERNAME" not in self.model_fields_set:
                self.DB_USERNAME = "root"
        return self

    @field_validator("APP_ENV", mode="before")
    @classmethod
    def _normalise_env(cls, value: object) -> object:
        if isinstance(value, str):
            return _ENV_ALIASES.get(value.strip().lower(), value.strip().lower())
        return value

    # --- derived values ---
    @property
    def is_production(self) -> bool:
        """True for the PRODUÇÃO environment."""
        return self.APP_ENV == "production"

    @property
    def is_mysql(self) -> bool:
        """True when the office database is MySQL/MariaDB (DB_CONNECTION=mysql)."""
        return self.DB_CONNECTION == "mysql"

    @property
    def database_url(self) -> str:
        """SQLAlchemy URL (psycopg 3 or PyMySQL). DB_HOST may be a Unix-socket path/directory."""
        user = quote_plus(self.DB_USERNAME)
        pwd = self.DB_PASSWORD.get_secret_value()
        auth = f"{user}:{quote_plus(pwd)}" if pwd else user
        if self.is_mysql:
            # utf8mb4: the whole of Unicode (utf8/utf8mb3 drops 4-byte characters).
            query = "charset=utf8mb4"
            if self.DB_HOST.startswith("/"):
                return f"mysql+pymysql://{auth}@/{self.DB_DATABASE}?unix_socket={quote_plus(self.DB_HOST)}&{query}"
            return (
                f"mysql+pymysql://{auth}@{self.DB_HOST}:{self.DB_PORT}/{self.DB_DATABASE}?{query}"
            )
        if self.DB_HOST.startswith("/"):
            return (
                f"postgresql+psycopg://{auth}@/{self.DB_DATABASE}"
                f"?host={quote_plus(self.DB_HOST)}&port={self.DB_PORT}"
            )
        return f"postgresql+psycopg://{auth}@{self.DB_HOST}:{self.DB_PORT}/{self.DB_DATABASE}"

    @property
    def redis_url(self) -> str:
        """redis-py URL built from REDIS_HOST/PORT/PASSWORD; REDIS_HOST may be a socket path."""
        pwd = self.REDIS_PASSWORD.get_secret_value()
        auth = f":{quote_plus(pwd)}@" if pwd else ""
        if self.REDIS_HOST.startswith("/"):
            return f"unix://{auth}{self.REDIS_HOST}?db={self.REDIS_DB}"
        scheme = "rediss" if self.REDIS_TLS else "redis"
        return f"{scheme}://{auth}{self.REDIS_HOST}:{self.REDIS_PORT}/{self.REDIS_DB}"

    @property
    def redis_topology(self) -> Literal["single", "sentinel", "cluster"]:
        """Which Redis client :mod:`app.cache` builds: Cluster, Sentinel, else one server."""
        if self.REDIS_CLUSTER:
            return "cluster"
        return "sentinel" if self.REDIS_SENTINELS else "single"

    @property
    def redis_sentinel_nodes(self) -> list[tuple[str, int]]:
        """The sentinels of REDIS_SENTINELS as (host, port)."""
        return _host_ports(self.REDIS_SENTINELS)

    @property
    def redis_cluster_nodes(self) -> list[tuple[str, int]]:
        """The Cluster seed nodes (REDIS_CLUSTER_NODES, else REDIS_HOST:REDIS_PORT)."""
        return _host_ports(self.REDIS_CLUSTER_NODES) or [(self.REDIS_HOST, self.REDIS_PORT)]

    @property
    def storage_root(self) -> Path:
        """Absolute directory of the local disk backend (guide §8: DEV uses storage/app)."""
        root = Path(self.STORAGE_LOCAL_ROOT)
        return root if root.is_absolute() else PROJECT_ROOT / root

    @property
    def backup_local_root(self) -> Path:
        """Absolute directory of the local backup target (DEV)."""
        root = Path(self.BACKUP_LOCAL_ROOT)
        return root if root.is_absolute() else PROJECT_ROOT / root

    def _backup_problems(self) -> list[str]:
        """Production needs a separate, encrypted backup target."""
        if self.BACKUP_DISK != "s3":
            return ["BACKUP_DISK deve ser 's3' em produção (backup em bucket separado)"]
        out: list[str] = []
        if not self.BACKUP_S3_BUCKET:
            out.append("BACKUP_S3_BUCKET está vazio")
        elif (self.BACKUP_S3_BUCKET, self.BACKUP_S3_ENDPOINT) == (self.S3_BUCKET, self.S3_ENDPOINT):
            out.append("BACKUP_S3_BUCKET deve ser diferente de S3_BUCKET (destino separado)")
        if (
            not self.BACKUP_S3_ACCESS_KEY.get_secret_value()
            or not self.BACKUP_S3_SECRET_KEY.get_secret_value()
        ):
            out.append("BACKUP_S3_ACCESS_KEY/BACKUP_S3_SECRET_KEY ausentes")
        key = self.BACKUP_ENCRYPTION_KEY.get_secret_value()
        if not self.BACKUP_S3_SSE and len(key) < 32:
            out.append("backup sem criptografia: defina BACKUP_S3_SSE ou BACKUP_ENCRYPTION_KEY")
        if self.BACKUP_S3_ENDPOINT and not self.BACKUP_S3_ENDPOINT.startswith("https://"):
            out.append("BACKUP_S3_ENDPOINT deve usar HTTPS em produção")
        return out

    @property
    def whatsapp_allowlist(self) -> set[str]:
        """Numbers (digits only) that receive WhatsApp messages in sandbox mode."""
        return {
            "".join(ch for ch in n if ch.isdigit())
            for n in self.WHATSAPP_SANDBOX_ALLOWLIST.split(",")
            if n.strip()
        }

    @property
    def whatsapp_sandbox(self) -> bool:
        """Homolog runs integrations in sandbox mode (guide §1.2)."""
        return self.APP_ENV != "production"

    def problems(self) -> list[str]:
        """Every reason this configuration is unsafe for PRODUÇÃO (empty when safe)."""
        if not self.is_production:
            return []
        out: list[str] = []
        key = self.APP_KEY.get_secret_value()
        if not key:
            out.append("APP_KEY está vazia")
        elif len(key) < 32:
            out.append("APP_KEY é curta demais (mínimo 32 caracteres)")
        if self.FILESYSTEM_DISK != "s3":
            out.append("FILESYSTEM_DISK deve ser 's3' em produção (armazenamento local é inseguro)")
        else:
            if not self.S3_BUCKET:
                out.append("S3_BUCKET está vazio")
            if (
                not self.S3_ACCESS_KEY.get_secret_value()
                or not self.S3_SECRET_KEY.get_secret_value()
            ):
                out.append("S3_ACCESS_KEY/S3_SECRET_KEY ausentes")
            if not self.S3_SSE:
                out.append("S3_SSE deve ativar criptografia no servidor (AES256 ou aws:kms)")
            if self.S3_ENDPOINT and not self.S3_ENDPOINT.startswith("https://"):
                out.append("S3_ENDPOINT deve usar HTTPS em produção")
        if not self.DB_PASSWORD.get_secret_value():
            out.append("DB_PASSWORD está vazia")
        if self.DB_HOST in {"", "127.0.0.1", "localhost"} or self.DB_HOST.startswith("/"):
            out.append("DB_HOST aponta para um banco local; produção usa banco externo")
        if not self.REDIS_PASSWORD.get_secret_value():
            out.append("REDIS_PASSWORD está vazia")
        if self.REDIS_CLUSTER and self.REDIS_SENTINELS:
            out.append("REDIS_CLUSTER e REDIS_SENTINELS são excludentes: escolha um")
        if urlparse(self.APP_URL).scheme != "https":
            out.append("APP_URL deve usar HTTPS (SSL obrigatório em produção)")
        if self.LOG_LEVEL == "DEBUG":
            out.append("LOG_LEVEL=DEBUG não é permitido em produção")
        if self.MAIL_SECURITY == "none":
            out.append("MAIL_SECURITY deve ser 'starttls' ou 'ssl' em produção")
        if self.MAIL_HOST in {"", "127.0.0.1", "localhost"}:
            out.append("MAIL_HOST aponta para um servidor local de testes")
        if self.QUEUE_CONNECTION != "redis" or self.CACHE_DRIVER != "redis":
            out.append("QUEUE_CONNECTION e CACHE_DRIVER devem ser 'redis' em produção")
        if (
            self.WHATSAPP_API_KEY.get_secret_value()
            and not self.WHATSAPP_APP_SECRET.get_secret_value()
        ):
            out.append("WHATSAPP_APP_SECRET é obrigatória para validar webhooks do WhatsApp")
        out += self._backup_problems()
        return out


def _host_ports(value: str) -> list[tuple[str, int]]:
    """Parse "host:port,host:port" (IPv6 as [addr]:port); ValueError on a malformed entry."""
    out: list[tuple[str, int]] = []
    for raw in value.split(","):
        item = raw.strip()
        if not item:
            continue
        host, sep, port = item.rpartition(":")
        host = host.strip("[]")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"esperado host:porta, recebido {item!r}")
        out.append((host, int(port)))
    return out


def ensure_safe(settings: Settings) -> Settings:
    """Raise ConfigError listing every problem when production is configured unsafely."""
    problems = settings.problems()
    if problems:
        raise ConfigError(problems)
    return settings


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read once; tests call ``get_settings.cache_clear()``)."""
    return ensure_safe(Settings())
