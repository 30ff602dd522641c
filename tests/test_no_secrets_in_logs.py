"""No secret ever reaches a log record, an error message or a repr.

Settings are loaded with every secret set (APP_KEY, DB/Redis/S3/mail passwords, the WhatsApp
key, app secret and verify token); representative paths then run with every logger at DEBUG:
creating a token, API calls with a bearer token (valid and revoked), the health check (whose
Redis login fails), S3 storage, the e-mail channel (with SMTP AUTH) and the WhatsApp channel.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from app.errors import AppError
from app.notify.base import Message
from app.settings import get_settings

SECRETS = {
    "APP_KEY": "chave-app-9d1f0c7e4b2a6d8e3f5a1c9b7e2d4f6a",
    "DB_PASSWORD": "senha-banco-Qx7Kp2",
    "REDIS_PASSWORD": "senha-redis-Lm4Wz8",
    "S3_SECRET_KEY": "segredo-s3-Vb5Nq1Tr8",
    "MAIL_PASSWORD": "senha-smtp-Hj3Yu6",
    "WHATSAPP_API_KEY": "EAAGchaveWhatsapp7Rt2Ws9",
    "WHATSAPP_APP_SECRET": "segredo-app-meta-Zc4Xv7",
    "WHATSAPP_VERIFY_TOKEN": "token-verificacao-Pk8Jn3",
}


def _reset_clients() -> None:
    from app.cache import reset_redis
    from app.db import reset_engine
    from app.storage import reset_storage

    get_settings.cache_clear()
    reset_engine()
    reset_redis()
    reset_storage()


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch, clean_db: None) -> Iterator[dict[str, str]]:
    """Every secret set (PostgreSQL's local trust auth ignores the password)."""
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("S3_ACCESS_KEY", "AKIDTESTE")
    monkeypatch.setenv("MAIL_USERNAME", "escritorio")
    _reset_clients()
    yield SECRETS
    monkeypatch.undo()
    _reset_clients()


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every logger at DEBUG (SQLAlchemy's SQL and parameters too), captured even if it does not
    propagate to the root logger."""
    import sqlalchemy.engine  # noqa: F401 - its loggers exist before we raise their level

    caplog.set_level(logging.DEBUG)
    detached: list[logging.Logger] = []
    for name in list(logging.root.manager.loggerDict):
        logger = logging.getLogger(name)
        caplog.set_level(logging.DEBUG, logger=name)
        if not logger.propagate and caplog.handler not in logger.handlers:
            logger.addHandler(caplog.handler)
            detached.append(logger)
    yield caplog
    for logger in detached:
        logger.removeHandler(caplog.handler)


def _leaks(texts: list[str], secrets: list[str]) -> list[str]:
    return [f"{s!r} in {t[:200]!r}" for t in texts for s in secrets if s in t]


def _records(caplog: pytest.LogCaptureFixture) -> list[str]:
    out = []
    for rec in caplog.records:
        # aiosmtpd is the test SMTP server, not our code.
        if rec.name.startswith("mail.log"):
            continue
        text = rec.getMessage()
        if rec.exc_info:
            text += logging.Formatter().formatException(rec.exc_info)
        out.append(text + repr(rec.args) + repr(getattr(rec, "__dict__", {})))
    return out


def test_settings_never_show_their_secrets(secret_env: dict[str, str]) -> None:
    s = get_settings()
    shown = [repr(s), str(s), s.model_dump_json(), repr(s.model_dump())]
    assert not _leaks(shown, list(secret_env.values()))
    assert s.APP_KEY.get_secret_value() == secret_env["APP_KEY"]  # the values are really set


def test_tokens_and_api_calls_log_no_secret(
    secret_env: dict[str, str], logs: pytest.LogCaptureFixture
) -> None:
    from fastapi.testclient import TestClient

    from app.api.main import create_app
    from app.db import session_scope
    from app.platform.tokens import create_token, revoke_token
    from models import Empresa

    with session_scope() as s:
        emp = Empresa(
            cnpj="11222333000181", razao_social="Padaria Pão Bom Ltda", regime="SIMPLES",
            uf="SP", ibge_code="3550308",
        )  # fmt: skip
        s.add(emp)
        s.flush()
        row, office = create_token(s, name="equipe", scope="office")
        _, client = create_token(s, name="cliente", scope="empresa", empresa_id=emp.id)
        office_id = row.id
    with TestClient(create_app(), raise_server_exceptions=False) as http:
        for token in (office, client, office + "x"):
            http.get("/api/me", headers={"Authorization": f"Bearer {token}"})
            http.get("/api/empresas", headers={"Authorization": f"Bearer {token}"})
        with session_scope() as s:
            revoke_token(s, token_id=office_id, actor="teste", reason="vazou")
        revoked = http.get("/api/me", headers={"Authorization": f"Bearer {office}"})
        # with a Redis password set, the health check's Redis login fails (or, on a server
        # without a password, may pass): either way its answer must not carry a secret
        health = http.get("/api/health")
    assert revoked.status_code == 401
    assert health.status_code in (200, 503)
    secrets = [*secret_env.values(), office, client, office[12:]]
    assert logs.records, "the paths logged nothing: the capture is not working"
    assert not _leaks(_records(logs) + [health.text, revoked.text], secrets)


def test_storage_errors_log_no_secret(
    secret_env: dict[str, str], logs: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.localservices import free_port
    from app.storage import get_storage

    monkeypatch.setenv("FILESYSTEM_DISK", "s3")
    monkeypatch.setenv("S3_BUCKET", "contab-teste")
    monkeypatch.setenv("S3_ENDPOINT", f"http://127.0.0.1:{free_port()}")  # nothing listens
    _reset_clients()
    errors: list[str] = []
    for op in (
        lambda st: st.put("a/b.xml", b"<x/>"),
        lambda st: st.get("a/b.xml"),
        lambda st: st.signed_url("a/b.xml", expires_in=60),
    ):
        try:
            errors.append(str(op(get_storage())))
        except AppError as exc:
            errors.append(f"{exc.code} {exc.message} {exc.details}")
    secrets = [secret_env["S3_SECRET_KEY"], secret_env["APP_KEY"]]
    assert not _leaks(_records(logs) + errors, secrets)


def _mail() -> Message:
    return Message(
        channel="email",
        to="financeiro@padaria.example.com.br",
        template="guia_disponivel",
        idempotency_key="segredos:1",
        context={
            "nome": "Ana", "empresa": "Padaria", "imposto": "DAS", "competencia": "2026-05",
            "vencimento": date(2026, 6, 22), "valor": Decimal("10.00"),
            "link": "https://portal.example.com.br/guias/1",
        },
    )  # fmt: skip


def test_channels_log_no_secret(secret_env: dict[str, str], logs: pytest.LogCaptureFixture) -> None:
    from dataclasses import replace

    from app.notify.factory import email_channel, smtp_config, whatsapp_config
    from app.notify.whatsapp import WhatsAppChannel
    from tests.support.smtp_sink import SmtpSink
    from tests.support.whatsapp_fake import WhatsAppFake

    errors: list[str] = []
    with SmtpSink() as sink:
        config = replace(smtp_config(), host=sink.host, port=sink.port, timeout=5.0)
        type(email_channel())(config).send(_mail())  # SMTP AUTH with MAIL_PASSWORD
        assert len(sink.messages) == 1
        sink.down()
        try:
            type(email_channel())(config).send(_mail())
        except AppError as exc:
            errors.append(f"{exc.code} {exc.message} {exc.details}")
    key = secret_env["WHATSAPP_API_KEY"]
    with WhatsAppFake(token=key) as fake:
        base = replace(
            whatsapp_config(), base_url=fake.base_url, phone_number_id=fake.phone_number_id,
            sandbox=False,
        )  # fmt: skip
        wa = Message(**_wa_fields())
        with WhatsAppChannel(base) as channel:
            channel.send(wa)
        with WhatsAppChannel(replace(base, api_key=key + "-errada")) as channel:
            try:
                channel.send(wa)
            except AppError as exc:
                errors.append(f"{exc.code} {exc.message} {exc.details}")
        assert len(fake.messages) == 1
    assert len(errors) == 2
    assert not _leaks(_records(logs) + errors, [*secret_env.values(), key + "-errada"])


def _wa_fields() -> dict[str, Any]:
    m = _mail()
    return {
        "channel": "whatsapp", "to": "+55 11 98765-4321", "template": m.template,
        "idempotency_key": "segredos:wa", "context": m.context,
    }  # fmt: skip


def test_channel_configs_do_not_show_their_secrets_in_repr(secret_env: dict[str, str]) -> None:
    """A config object logged or shown in a traceback must not carry the password/API key."""
    from app.notify.factory import smtp_config, whatsapp_config

    shown = [repr(smtp_config()), repr(whatsapp_config())]
    assert not _leaks(shown, [secret_env["MAIL_PASSWORD"], secret_env["WHATSAPP_API_KEY"]])
