"""A token bucket in Redis shared by every worker, updated atomically by one Lua script."""

from __future__ import annotations

import time
from typing import Any

__all__ = ["WHATSAPP_DEFAULT_RATE", "TokenBucket"]

# Cloud API default throughput is 80 messages/s per business phone number (Meta, "Throughput",
# https://developers.facebook.com/docs/whatsapp/cloud-api/overview#throughput).
WHATSAPP_DEFAULT_RATE = 80.0

# The bucket refills continuously at `rate` tokens/s up to `burst`. Time comes from the Redis
# server (TIME), so workers with skewed clocks share one consistent bucket. Returns
# {granted (0|1), milliseconds until `n` tokens are available}.
_SCRIPT = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local granted = 0
local wait_ms = 0
if tokens >= n then
  tokens = tokens - n
  granted = 1
else
  wait_ms = math.ceil((n - tokens) / rate * 1000)
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens),
           'ts', string.format('%.6f', now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {granted, wait_ms}
"""


class TokenBucket:
    """``rate_per_s`` tokens per second, at most ``burst`` at once, stored under ``key``."""

    def __init__(self, redis: Any, key: str, rate_per_s: float, burst: int) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("rate_per_s must be > 0 and burst >= 1")
        self.key = key
        self.rate_per_s = float(rate_per_s)
        self.burst = burst
        self._script = redis.register_script(_SCRIPT)
        self.last_wait = 0.0

    def _take(self, n: int) -> tuple[bool, float]:
        if not 1 <= n <= self.burst:
            raise ValueError(f"n must be between 1 and burst ({self.burst})")
        granted, wait_ms = self._script(keys=[self.key], args=[self.rate_per_s, self.burst, n])
        self.last_wait = int(wait_ms) / 1000
        return bool(granted), self.last_wait

    def try_acquire(self, n: int = 1) -> bool:
        """Take ``n`` tokens now if available; never waits."""
        return self._take(n)[0]

    def acquire(self, n: int = 1, timeout: float = 1.0) -> bool:
        """Take ``n`` tokens, sleeping up to ``timeout`` seconds; False when they did not come."""
        deadline = time.monotonic() + timeout
        while True:
            granted, wait = self._take(n)
            if granted:
                return True
            remaining = deadline - time.monotonic()
            if wait > remaining:
                return False
            time.sleep(wait)
