"""Redis client (cache, locks, rate limits); built lazily from the settings."""

from __future__ import annotations

from functools import lru_cache

import redis

from app.settings import get_settings

__all__ = ["get_redis", "reset_redis"]


@lru_cache(maxsize=1)
def get_redis() -> redis.Redis:
    """Process-wide Redis client with short socket timeouts (a dead Redis fails fast)."""
    s = get_settings()
    return redis.Redis.from_url(
        s.redis_url,
        socket_connect_timeout=2,
        socket_timeout=2,
        health_check_interval=30,
        decode_responses=False,
    )


def reset_redis() -> None:
    """Forget the client (tests that change settings)."""
    if get_redis.cache_info().currsize:
        get_redis().close()
    get_redis.cache_clear()
