"""Fixtures: a real SMTP sink, the WhatsApp Cloud API fake and the real Redis (db 15)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import redis

from tests.support.smtp_sink import SmtpSink
from tests.support.whatsapp_fake import WhatsAppFake


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


@pytest.fixture
def wa_fake() -> Iterator[WhatsAppFake]:
    with WhatsAppFake() as fake:
        yield fake


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    """The session's Redis (localhost or the embedded one the root conftest started), db 15."""
    client = redis.Redis(
        host=os.environ["REDIS_HOST"], port=int(os.environ["REDIS_PORT"]), db=15, socket_timeout=5
    )
    yield client
    client.close()


@pytest.fixture
def redis_prefix(redis_client: redis.Redis) -> Iterator[str]:
    """A unique key prefix; every key under it is deleted afterwards."""
    prefix = f"test:notify:{uuid.uuid4().hex}:"
    yield prefix
    keys = list(redis_client.scan_iter(match=prefix + "*"))
    if keys:
        redis_client.delete(*keys)
