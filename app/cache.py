"""Redis client (cache, locks, rate limits, the upload dispatcher); built lazily from the settings.

Three topologies, chosen by the settings (:attr:`app.settings.Settings.redis_topology`):

* one server — ``REDIS_HOST``/``REDIS_PORT``;
* Sentinel — ``REDIS_SENTINELS`` + ``REDIS_SENTINEL_MASTER``: redis-py's ``Sentinel.master_for``.
  Every new connection asks the sentinels for the current master, and a master demoted to
  replica (read-only) drops its connections, so a retried command reaches the promoted one;
* Cluster — ``REDIS_CLUSTER`` + ``REDIS_CLUSTER_NODES``: redis-py's ``RedisCluster``; a failed
  node or a MOVED reply refreshes the slot map from the surviving nodes.

Timeouts are short (a dead Redis fails fast) and every command is retried on a connection error
or timeout with exponential backoff (``REDIS_RETRIES`` times, at most 2 s apart): that rides over
a failover (Sentinel ``down-after-milliseconds`` + election, or Cluster ``cluster-node-timeout``
+ replica promotion) instead of failing the request or the task.

Cluster rules for code using this client — see https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/
("Keys distribution model", "Hash tags"): a command or Lua script touching several keys needs
them in one hash slot (share a ``{tag}``); ``MULTI`` transactions likewise. ``MGET`` is the
exception made here: the Cluster client splits it per slot (:class:`_Cluster`), because every
caller reads independent keys and needs no snapshot across them. Single-key commands, blocking
pops on one key, non-transactional pipelines and single-key scripts work unchanged.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, cast

import redis
from redis.backoff import ExponentialBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry
from redis.sentinel import Sentinel

from app.settings import Settings, get_settings

__all__ = ["build_redis", "get_quick_redis", "get_redis", "reset_redis"]

CONNECT_TIMEOUT_SECONDS = 2.0
SOCKET_TIMEOUT_SECONDS = 2.0
# The quick client (best-effort calls inside a request: wake-ups, bookkeeping): one try, short
# timeouts, so a dead Redis costs a request at most ~0.5 s instead of the retries' ~7 s.
QUICK_TIMEOUT_SECONDS = 0.5


class _Cluster(RedisCluster):
    """RedisCluster whose ``MGET`` accepts keys of different slots (one MGET per slot)."""

    def mget(self, keys: Any, *args: Any) -> Any:
        """Values of ``keys`` in order; not atomic across slots (callers read independent keys)."""
        return self.mget_nonatomic(keys, *args)


def _retry(settings: Settings, retries: int | None = None) -> Retry:
    return Retry(
        ExponentialBackoff(cap=2.0, base=0.1),
        settings.REDIS_RETRIES if retries is None else retries,
        supported_errors=(RedisConnectionError, RedisTimeoutError, TimeoutError),
    )


def build_redis(settings: Settings, *, quick: bool = False) -> redis.Redis:
    """A new client for the configured topology (typed as ``redis.Redis``: the Cluster client
    answers the same commands). ``quick``: no retries and short timeouts (best-effort calls)."""
    password = settings.REDIS_PASSWORD.get_secret_value() or None
    timeout = QUICK_TIMEOUT_SECONDS if quick else SOCKET_TIMEOUT_SECONDS
    common: dict[str, Any] = {
        "socket_connect_timeout": QUICK_TIMEOUT_SECONDS if quick else CONNECT_TIMEOUT_SECONDS,
        "socket_timeout": timeout,
        "health_check_interval": 30,
        "decode_responses": False,
        "password": password,
    }
    retry = _retry(settings, 0 if quick else None)
    topology = settings.redis_topology
    if topology == "cluster":
        nodes = [ClusterNode(host, port) for host, port in settings.redis_cluster_nodes]
        cluster = _Cluster(startup_nodes=nodes, retry=retry, ssl=settings.REDIS_TLS, **common)
        return cast(redis.Redis, cluster)
    if topology == "sentinel":
        sentinel_password = settings.REDIS_SENTINEL_PASSWORD.get_secret_value() or None
        sentinel_kwargs: dict[str, Any] = {
            "socket_connect_timeout": timeout,
            "socket_timeout": timeout,
            "password": sentinel_password,
        }
        if settings.REDIS_TLS:
            sentinel_kwargs["ssl"] = True
        sentinel = Sentinel(settings.redis_sentinel_nodes, sentinel_kwargs=sentinel_kwargs)
        return sentinel.master_for(
            settings.REDIS_SENTINEL_MASTER,
            db=settings.REDIS_DB,
            retry=retry,
            ssl=settings.REDIS_TLS,
            **common,
        )
    # The URL carries the password, the database and TLS (rediss://) of the one server.
    return redis.Redis.from_url(settings.redis_url, retry=retry, **common)


@lru_cache(maxsize=1)
def get_redis() -> redis.Redis:
    """The process-wide Redis client of the configured topology."""
    return build_redis(get_settings())


@lru_cache(maxsize=1)
def get_quick_redis() -> redis.Redis:
    """The process-wide best-effort client: one try, short timeouts. For calls a request can do
    without (wake-ups, bookkeeping), so a dead or failing-over Redis never holds a request up."""
    return build_redis(get_settings(), quick=True)


def reset_redis() -> None:
    """Forget the clients (tests that change settings)."""
    for getter in (get_redis, get_quick_redis):
        if getter.cache_info().currsize:
            getter().close()
        getter.cache_clear()
