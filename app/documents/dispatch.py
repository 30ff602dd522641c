"""Getting accepted uploads processed without the request waiting on the orchestrator.

The request stores and records the upload, commits, and calls :func:`announce` (a Redis wake-up,
best effort: the upload is durable in PostgreSQL whatever happens to Redis). A
:class:`Dispatcher` loop — a daemon thread of every API process, or ``contab dispatcher`` alone —
notices waiting uploads (woken by Redis, else by polling the database every second) and, when no
drainer is alive, starts one run of ``processar-upload-xml`` in drain mode. That run (the
*drainer*) holds a :class:`Lease` in Redis while it works and processes every waiting upload in
fair batches; a second run finds the lease taken and ends at once, so duplicate starts are
harmless. A drainer that dies stops refreshing its lease, which expires after ``LEASE_TTL``
seconds; the next tick starts a new one, which finds every file still pending (a dead run's
transaction is rolled back by PostgreSQL, so nothing it had claimed is lost).

The same loop wakes ``processar-pedidos`` up: a request that opens an order or adds attachments
calls :func:`announce_orders` (a Redis flag plus a wake-up), and the leading dispatcher starts one
run for every order waiting — unless the last run it started has not begun yet (Scheduled or
Pending: that run reads every waiting order when it starts). The deployment keeps a long safety
schedule (prefect.yaml) for a flag lost with Redis; before this, a 60-second schedule started a
flow-run process every minute (several CPU-seconds each) with nothing to do.

Starting runs is the caller's business (``start_run``/``run_state`` callables: the Prefect
client lives in the API glue), so this module stays plain Python over Redis and the database.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import redis

from app.cache import get_quick_redis, get_redis
from app.db import session_scope
from app.documents.drain import has_waiting_uploads
from app.settings import get_settings

__all__ = [
    "LEASE_TTL",
    "Dispatcher",
    "Lease",
    "announce",
    "announce_orders",
    "key",
    "lease_holder",
    "wait_for_wake",
]

log = logging.getLogger("contab.documents.dispatch")


def key(name: str) -> str:
    """A Redis key of this module, namespaced by the database: platforms that share one Redis
    (staging and production, parallel test sessions) never see each other's lease or wake-ups."""
    return f"contab:{get_settings().DB_DATABASE}:uploads:{name}"


# A live drainer refreshes its lease every LEASE_TTL / 3 s; a dead one is replaced after this.
LEASE_TTL = 30
# How long a run just created may take to reach the lease (worker polling + process start-up,
# ~7 s with 1 s polling, ~15 s with the default 10 s) before the dispatcher may start another.
START_GRACE = 45
# Prefect unreachable: retry after 2, 4, 8 … up to this many seconds (uploads accepted during an
# outage start within this long of its return).
MAX_BACKOFF = 30.0
# A run the worker is still starting (PENDING: process spawn and imports, a minute or more on a
# loaded machine) is waited for up to this long; a process that dies while starting is reported
# Crashed by the worker. A run RUNNING without the lease START_GRACE after it started is dead.
MAX_PENDING = 600.0

# Tick outcomes after which a wake-up changes nothing until the next look (see run_forever).
_SETTLED = frozenset({"busy", "starting", "waiting", "follower", "backoff"})
_REFRESH = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('expire', KEYS[1], ARGV[2]) else return 0 end"  # noqa: E501
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"  # noqa: E501


def announce(upload_id: int) -> None:
    """Wake the dispatcher (and an idle drainer) up: an upload is waiting. Never raises."""
    try:
        pipe = get_quick_redis().pipeline(transaction=False)
        pipe.lpush(key("wake"), upload_id)
        pipe.ltrim(key("wake"), 0, 99)  # wake-ups coalesce: the list only needs to be non-empty
        pipe.execute()
    except redis.RedisError as exc:  # the dispatcher also polls the database
        log.warning("upload %s: wake-up not sent (%s); it is picked up by polling", upload_id, exc)


def orders_key() -> str:
    """The flag "an order has work for processar-pedidos" (namespaced like :func:`key`)."""
    return f"contab:{get_settings().DB_DATABASE}:orders:due"


def announce_orders() -> None:
    """Ask the dispatcher for a ``processar-pedidos`` run (an order opened or got attachments).
    Never raises: without Redis the deployment's safety schedule picks the order up."""
    try:
        pipe = get_quick_redis().pipeline(transaction=False)
        pipe.set(orders_key(), b"1")
        pipe.lpush(key("wake"), 0)
        pipe.ltrim(key("wake"), 0, 99)
        pipe.execute()
    except redis.RedisError as exc:
        log.warning("processar-pedidos not woken (%s): its schedule picks the order up", exc)


def wait_for_wake(timeout: float) -> bool:
    """Block up to ``timeout`` seconds (≤ 1.5, under the client's socket timeout) for a wake-up;
    True when one came. Redis down: just sleep."""
    timeout = max(0.1, min(timeout, 1.5))
    try:
        client = get_redis()
        got = client.brpop([key("wake")], timeout=timeout)
        if got is not None:
            client.delete(key("wake"))  # one wake-up covers every upload announced so far
        return got is not None
    except redis.RedisError:
        time.sleep(timeout)
        return False


def lease_holder() -> str | None:
    """The run holding the drainer lease, or None (raises ``redis.RedisError``)."""
    value = get_redis().get(key("drainer"))
    return value.decode() if value else None


@dataclass
class Lease:
    """The drainer lease: one drainer works at a time; it dies with its process.

    ``keep_alive`` refreshes it from a daemon thread while ``progress()`` (seconds since the
    holder last moved) stays under ``stall_after``: a process stuck in a call keeps no lease.
    """

    holder: str
    ttl: int = LEASE_TTL
    lost: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)

    def acquire(self) -> bool:
        """Take the lease if nobody holds it."""
        return bool(get_redis().set(key("drainer"), self.holder, nx=True, ex=self.ttl))

    def refresh(self) -> bool:
        """Extend the lease; False (and ``lost`` set) when another holder has it."""
        try:
            ok = bool(get_redis().eval(_REFRESH, 1, key("drainer"), self.holder, self.ttl))
        except redis.RedisError as exc:  # keep working: SKIP LOCKED keeps a rival drainer apart
            log.warning("drainer lease not refreshed: %s", exc)
            return True
        if not ok:
            self.lost.set()
        return ok

    def release(self) -> None:
        """Give the lease back (only if still ours)."""
        self._stop.set()
        try:
            get_redis().eval(_RELEASE, 1, key("drainer"), self.holder)
        except redis.RedisError as exc:
            log.warning("drainer lease not released (expires by itself): %s", exc)

    def keep_alive(self, progress: Callable[[], float], stall_after: float = 900) -> None:
        """Refresh every ttl/3 s from a daemon thread until released, lost or stalled."""

        def loop() -> None:
            while not self._stop.wait(self.ttl / 3):
                if progress() > stall_after or not self.refresh():
                    return

        threading.Thread(target=loop, name="drainer-lease", daemon=True).start()


@dataclass
class Dispatcher:
    """Starts a drainer when uploads wait and none is alive (see the module docstring).

    ``start_run()`` creates a drain run and returns its id; ``run_state(id)`` returns its state
    type (``"SCHEDULED"``, ``"RUNNING"``, ``"COMPLETED"`` …) and the seconds since it entered
    it, or None when unknown. Both may raise when the orchestrator is unreachable: the
    dispatcher backs off and tries again.
    """

    start_run: Callable[[], str]
    run_state: Callable[[str], tuple[str, float] | None]
    # starts a processar-pedidos run (None: this dispatcher leaves orders to the schedule)
    start_orders: Callable[[], str] | None = None
    name: str = field(default_factory=lambda: f"dispatcher-{uuid.uuid4().hex[:8]}")
    start_grace: float = START_GRACE
    last_run: str | None = None
    last_start: float = float("-inf")
    retry_at: float = 0.0
    failures: int = 0
    orders_run: str | None = None
    orders_checked: float = float("-inf")
    orders_retry_at: float = 0.0
    orders_failures: int = 0

    def _leader(self, client: redis.Redis) -> bool:
        """One dispatcher acts at a time across API replicas (a short, refreshed Redis lock)."""
        if client.set(key("dispatcher"), self.name, nx=True, ex=10):
            return True
        return bool(client.eval(_REFRESH, 1, key("dispatcher"), self.name, 10))

    def _run_waiting(self, run_id: str | None) -> bool:
        """The last run created is still on its way to the lease: do not add one."""
        got = self.run_state(run_id) if run_id is not None else None
        if got is None:
            return False
        state, age = got
        if state == "SCHEDULED":  # no worker took it yet: another would wait behind it
            return True
        if state == "PENDING":
            return age < MAX_PENDING
        return state == "RUNNING" and age < self.start_grace

    def tick(self) -> str:
        """Look once; return what was done (``idle``, ``busy``, ``waiting``, ``started`` …)."""
        now = time.monotonic()
        if now < self.retry_at:
            return "backoff"
        with session_scope() as session:
            if not has_waiting_uploads(session):
                return "idle"
        try:
            client = get_redis()
            if not self._leader(client):
                return "follower"
            if client.get(key("drainer")) is not None:
                return "busy"
            if client.get(key("starting")) is not None:
                return "starting"
            last = client.get(key("last-run"))
            last_run = last.decode() if last else self.last_run
        except redis.RedisError as exc:  # no lease to read: rely on our own start and its state
            log.warning("dispatcher without Redis (polling the database): %s", exc)
            client, last_run = None, self.last_run
            if now - self.last_start < self.start_grace:
                return "starting"
        try:
            if self._run_waiting(last_run):
                return "waiting"
            got = self.run_state(last_run) if client is None and last_run else None
            if got is not None and got[0] == "RUNNING":
                return "busy"
            run_id = self.start_run()
        except Exception as exc:  # noqa: BLE001 - orchestrator down: back off, try again
            self.failures += 1
            delay = min(MAX_BACKOFF, 2.0**self.failures)
            self.retry_at = now + delay
            log.warning("drainer not started (retry in %.0f s): %s", delay, exc)
            return "error"
        self.failures, self.last_run, self.last_start = 0, run_id, now
        if client is not None:
            try:
                client.set(key("starting"), run_id, ex=int(self.start_grace))
                client.set(key("last-run"), run_id, ex=24 * 3600)
            except redis.RedisError:
                pass
        log.info("drainer started: flow run %s", run_id)
        return "started"

    def tick_orders(self, min_interval: float = 1.0) -> str:
        """Start ``processar-pedidos`` when an order asked for it (at most one look a second);
        ``covered`` when the last run started has not begun yet (it will read the order)."""
        now = time.monotonic()
        if self.start_orders is None or now - self.orders_checked < min_interval:
            return "skip"
        self.orders_checked = now
        if now < self.orders_retry_at:
            return "backoff"
        try:
            client = get_redis()
            if not client.exists(orders_key()) or not self._leader(client):
                return "idle"
        except redis.RedisError:
            return "no-redis"  # the flag lives there: the schedule covers the outage
        outcome = "covered"
        try:
            got = self.run_state(self.orders_run) if self.orders_run else None
            if got is None or got[0] not in ("SCHEDULED", "PENDING"):
                self.orders_run, outcome = self.start_orders(), "started"
                log.info("processar-pedidos started: flow run %s", self.orders_run)
        except Exception as exc:  # noqa: BLE001 - orchestrator down: back off, keep the flag
            self.orders_failures += 1
            delay = min(MAX_BACKOFF, 2.0**self.orders_failures)
            self.orders_retry_at = now + delay
            log.warning("processar-pedidos not started (retry in %.0f s): %s", delay, exc)
            return "error"
        self.orders_failures = 0
        try:
            # the run (new, or one not begun yet) reads every waiting order when it starts
            client.delete(orders_key())
        except redis.RedisError:
            pass
        return outcome

    def run_forever(self, stop: threading.Event, interval: float = 1.0) -> None:
        """Tick until ``stop`` is set: after each wake-up, else every ``interval`` seconds."""
        while not stop.is_set():
            state = "error"
            try:
                state = self.tick()
                self.tick_orders()
            except Exception:  # noqa: BLE001 - a database blip must not end the thread
                log.exception("dispatcher tick failed")
                stop.wait(interval)
            if state in _SETTLED:
                # A drainer is alive (or a run is on its way, or another dispatcher leads): new
                # uploads need nothing from us, so look once per interval instead of on every
                # wake-up — at 50 single-XML uploads/s a tick per wake-up (a query and three Redis
                # round-trips) was a good part of the API's CPU per upload.
                stop.wait(interval)
            else:
                wait_for_wake(interval)
