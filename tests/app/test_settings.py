"""Configuration per environment and production's refusal of unsafe settings."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from app.errors import ConfigError
from app.settings import Settings, ensure_safe

SAFE_PRODUCTION = {
    "APP_ENV": "production",
    "APP_KEY": "k" * 48,
    "DB_HOST": "db.interno.exemplo",
    "DB_PASSWORD": "segredo-forte",
    "REDIS_HOST": "redis.interno.exemplo",
    "REDIS_PASSWORD": "outro-segredo",
    "FILESYSTEM_DISK": "s3",
    "S3_BUCKET": "contab-prod",
    "S3_ACCESS_KEY": "AKIA",
    "S3_SECRET_KEY": "secret",
    "S3_SSE": "AES256",
    "APP_URL": "https://contab.exemplo.com.br",
    "LOG_LEVEL": "INFO",
    "MAIL_HOST": "smtp.exemplo.com.br",
    "MAIL_SECURITY": "starttls",
    "BACKUP_DISK": "s3",
    "BACKUP_S3_BUCKET": "contab-prod-backup",
    "BACKUP_S3_ACCESS_KEY": "AKIB",
    "BACKUP_S3_SECRET_KEY": "secret-b",
    "BACKUP_S3_SSE": "AES256",
}


def make(**env: str) -> Settings:
    """Settings from exactly these values (the test session's environment is hidden)."""
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k in Settings.model_fields}
    try:
        return Settings(_env_file=None, **env)  # type: ignore[call-arg, arg-type]
    finally:
        os.environ.update(saved)


def test_guide_variables_are_all_read() -> None:
    guide = (
        "APP_ENV APP_KEY DB_HOST DB_DATABASE DB_USERNAME DB_PASSWORD REDIS_HOST REDIS_PASSWORD "
        "QUEUE_CONNECTION CACHE_DRIVER FILESYSTEM_DISK S3_BUCKET S3_ACCESS_KEY S3_SECRET_KEY "
        "S3_REGION MAIL_HOST MAIL_PORT WHATSAPP_API_KEY LOG_CHANNEL"
    ).split()
    assert set(guide) <= set(Settings.model_fields)


def test_env_example_documents_every_setting() -> None:
    from app.settings import PROJECT_ROOT

    text = (PROJECT_ROOT / ".env.example").read_text()
    missing = [name for name in Settings.model_fields if f"{name}=" not in text]
    assert missing == []


@pytest.mark.parametrize(
    "alias,env", [("local", "dev"), ("homologacao", "homolog"), ("prod", "production")]
)
def test_app_env_aliases(alias: str, env: str) -> None:
    assert make(APP_ENV=alias).APP_ENV == env


def test_safe_production_passes() -> None:
    assert make(**SAFE_PRODUCTION).problems() == []


def test_unsafe_production_lists_every_problem() -> None:
    s = make(APP_ENV="production", LOG_LEVEL="DEBUG", APP_URL="http://x")
    problems = s.problems()
    joined = "\n".join(problems)
    for expected in (
        "APP_KEY",
        "FILESYSTEM_DISK",
        "DB_PASSWORD",
        "REDIS_PASSWORD",
        "HTTPS",
        "DEBUG",
    ):
        assert expected in joined
    with pytest.raises(ConfigError) as err:
        ensure_safe(s)
    assert err.value.problems == problems


def test_dev_accepts_embedded_defaults() -> None:
    assert make(APP_ENV="dev").problems() == []


def test_secrets_never_appear_in_repr() -> None:
    s = make(**SAFE_PRODUCTION)
    assert "segredo-forte" not in repr(s) and "segredo-forte" not in str(s.model_dump())


def test_contab_check_exits_non_zero_listing_problems(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {"PATH": "/usr/bin:/bin", "APP_ENV": "production", "APP_URL": "http://inseguro"}
    proc = subprocess.run(
        [sys.executable, "-m", "app.cli", "check"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2
    for expected in ("APP_KEY", "FILESYSTEM_DISK", "DB_PASSWORD", "HTTPS"):
        assert expected in proc.stderr


def test_api_refuses_to_start_on_unsafe_production(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from app.settings import PROJECT_ROOT

    env = {"PATH": "/usr/bin:/bin", "APP_ENV": "production", "PYTHONPATH": str(PROJECT_ROOT)}
    code = "from app.api.main import create_app\ncreate_app()"
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert proc.returncode != 0
    assert "APP_KEY está vazia" in proc.stderr and "REDIS_PASSWORD" in proc.stderr
