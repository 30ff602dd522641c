"""The e-mail rate limit comes from MAIL_RATE_PER_SECOND; 0 means no limit."""

from __future__ import annotations

from app.notify.factory import email_limiter
from app.notify.ratelimit import TokenBucket
from app.settings import get_settings


def test_email_limit_is_off_by_default_and_follows_the_setting(redis_client) -> None:  # type: ignore[no-untyped-def]
    base = get_settings()
    assert email_limiter(redis_client, base) is None
    limited = email_limiter(redis_client, base.model_copy(update={"MAIL_RATE_PER_SECOND": 5.0}))
    assert isinstance(limited, TokenBucket)
    taken = sum(limited.try_acquire() for _ in range(20))
    assert 5 <= taken <= 6  # the burst is one second's worth of tokens (plus any refill)
