"""A worker SIGKILLed in the middle of a batch: the re-run sends no message twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.db import session_scope
from app.notifications.delivery import Senders, deliver_batch
from app.notifications.outbox import Recipient, enqueue
from app.notify.email import IDEMPOTENCY_HEADER, EmailChannel
from models import DeliveryAttempt, Notification
from tests.support.smtp_sink import SmtpSink

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

WORKER = """
from app.cache import get_redis
from app.db import session_scope
from app.notify.factory import email_channel
from app.notifications.delivery import Senders, deliver_batch
deliver_batch(transaction=session_scope, senders=Senders(redis=get_redis(), email=email_channel()))
"""


class StallingSink(SmtpSink):
    """Accepts ``stall_after`` messages, then holds the next DATA open (no 250) until released."""

    stall_after: int | None = None
    stalled = threading.Event()
    release = threading.Event()

    def _accept(self, session, envelope):  # type: ignore[no-untyped-def]
        if self.stall_after is not None and len(self.messages) >= self.stall_after:
            self.stalled.set()
            self.release.wait(30)
            return "451 4.3.0 Interrompido"
        return super()._accept(session, envelope)


@pytest.fixture
def sink() -> Iterator[StallingSink]:
    s = StallingSink()
    s.stalled, s.release = threading.Event(), threading.Event()
    with s:
        yield s
        s.release.set()


def test_worker_killed_mid_batch_then_rerun_sends_each_message_exactly_once(
    clean_db: None, sink: StallingSink, redis_client
) -> None:  # type: ignore[no-untyped-def]
    with session_scope() as s:
        for i in range(20):
            enqueue(
                s,
                key=f"lembrete:{i}",
                recipients=[Recipient("email", f"c{i}@example.com.br", f"C{i}")],
                template="lembrete_solicitacao",
                context={
                    "empresa": "Padaria",
                    "competencia": "2026-05",
                    "itens_faltantes": ["NF-e"],
                },
            )
    sink.stall_after = 8
    env = {**os.environ, "MAIL_PORT": str(sink.port)}
    worker = subprocess.Popen([sys.executable, "-c", WORKER], cwd=ROOT, env=env)
    try:
        assert sink.stalled.wait(60), "the worker never reached the 9th message"
        os.kill(worker.pid, signal.SIGKILL)  # a real crash: no cleanup, no recording
    finally:
        worker.wait(10)
    assert worker.returncode == -signal.SIGKILL
    sink.stall_after = None
    sink.release.set()
    with session_scope() as s:
        assert s.scalar(select(func.count()).where(Notification.status == "enviando")) == 20
    assert len(sink.messages) == 8

    senders = Senders(redis=redis_client, email=EmailChannel(sink.smtp_config()))
    # Within the lease the dead worker's rows are left alone …
    assert deliver_batch(transaction=session_scope, senders=senders)["reivindicadas"] == 0
    # … after it they are settled with the journal, and the rest is sent.
    later = datetime.now(UTC) + timedelta(minutes=11)
    report = deliver_batch(transaction=session_scope, senders=senders, now=lambda: later)

    assert report["recuperadas_enviadas"] == 8  # sent before the crash: not resent
    assert report["reenvio_apos_falha"] == 1  # in flight at the crash: resent, flagged
    assert report["nao_tentadas"] == 11
    keys = Counter(m.header(IDEMPOTENCY_HEADER) for m in sink.messages)
    ids = Counter(m.header("Message-ID") for m in sink.messages)
    assert len(keys) == 20 and set(keys.values()) == {1}  # each key reached the sink once
    assert sum(n - 1 for n in ids.values()) == 0  # duplicate count
    with session_scope() as s:
        assert s.scalar(select(func.count()).where(Notification.status == "enviada")) == 20
        flagged = s.scalar(
            select(func.count()).where(DeliveryAttempt.outcome == "reenvio_apos_falha")
        )
        assert flagged == 1
