"""The Redis token bucket shared by workers (real Redis, db 15)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis

from app.notify.base import Message, RateLimited
from app.notify.ratelimit import TokenBucket
from app.notify.whatsapp import WhatsAppChannel, WhatsAppConfig
from tests.support.whatsapp_fake import WhatsAppFake


def test_burst_is_available_at_once_and_no_more(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    bucket = TokenBucket(redis_client, redis_prefix + "wa", rate_per_s=1, burst=10)
    granted = [bucket.try_acquire() for _ in range(12)]
    assert granted == [True] * 10 + [False] * 2


def test_rate_over_a_one_second_window_stays_within_burst_plus_rate(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    bucket = TokenBucket(redis_client, redis_prefix + "wa", rate_per_s=50, burst=10)
    start = time.monotonic()
    granted = 0
    while time.monotonic() - start < 1.0:
        granted += bucket.try_acquire()
    elapsed = time.monotonic() - start
    assert 10 <= granted <= 10 + 50 * elapsed + 1


def test_buckets_are_shared_by_key_and_independent_across_keys(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    worker_a = TokenBucket(redis_client, redis_prefix + "shared", rate_per_s=1, burst=3)
    worker_b = TokenBucket(redis_client, redis_prefix + "shared", rate_per_s=1, burst=3)
    other = TokenBucket(redis_client, redis_prefix + "other", rate_per_s=1, burst=3)
    assert [worker_a.try_acquire(), worker_b.try_acquire(), worker_a.try_acquire()] == [True] * 3
    assert worker_b.try_acquire() is False
    assert other.try_acquire(3) is True


def test_acquire_waits_for_a_token_then_gives_up_past_its_timeout(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    bucket = TokenBucket(redis_client, redis_prefix + "wa", rate_per_s=50, burst=2)
    assert bucket.try_acquire(2)
    assert bucket.acquire(timeout=1.0) is True  # refills within 20 ms
    slow = TokenBucket(redis_client, redis_prefix + "slow", rate_per_s=0.01, burst=1)
    assert slow.try_acquire()
    assert slow.acquire(timeout=0.05) is False  # next token in 100 s
    assert slow.last_wait > 0


def test_asking_for_more_than_the_burst_is_a_programming_error(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    bucket = TokenBucket(redis_client, redis_prefix + "wa", rate_per_s=5, burst=2)
    with pytest.raises(ValueError):
        bucket.acquire(3)


def test_bucket_key_expires_when_idle(redis_client: redis.Redis, redis_prefix: str) -> None:
    bucket = TokenBucket(redis_client, redis_prefix + "wa", rate_per_s=80, burst=80)
    bucket.try_acquire()
    assert 0 < redis_client.pttl(redis_prefix + "wa") <= 2000


@pytest.fixture
def limited_channel(
    wa_fake: WhatsAppFake, redis_client: redis.Redis, redis_prefix: str
) -> Iterator[WhatsAppChannel]:
    config = WhatsAppConfig(
        api_key=wa_fake.token,
        phone_number_id=wa_fake.phone_number_id,
        base_url=wa_fake.base_url,
        rate_limit_wait=0.0,
    )
    bucket = TokenBucket(redis_client, redis_prefix + "wa", rate_per_s=0.01, burst=2)
    with WhatsAppChannel(config, limiter=bucket) as channel:
        yield channel


def test_channel_with_a_limiter_never_exceeds_the_bucket(
    wa_fake: WhatsAppFake, limited_channel: WhatsAppChannel
) -> None:
    message = Message(
        channel="whatsapp",
        to="5511987654321",
        template="falha_geracao_guia",
        idempotency_key="x",
        context={"imposto": "DAS", "empresa": "E", "competencia": "2026-05", "erro": "sem RBT12"},
    )
    limited_channel.send(message)
    limited_channel.send(message)
    with pytest.raises(RateLimited) as info:
        limited_channel.send(message)
    assert info.value.retry_after > 0
    assert len(wa_fake.messages) == 2
