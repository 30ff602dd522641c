"""Notification delivery benchmark: the outbox drained to local protocol peers.

Run: ``.venv/bin/python bench/notify.py [--n 10000] [--whatsapp-n N] [--whatsapp-rate 80]``

E-mail: N notifications queued, then drained by the ``enviar-notificacoes`` task itself
(``tasks.notifications.send_notifications_batch``, called batch after batch as the flow does:
channels from the settings, claim 500 with SKIP LOCKED, send on one SMTP connection with the
Redis journal, record) to the dev SMTP sink (``app.notify.mailsink``) running in another
process, which writes every message as .eml. Baseline in the same run: the bare channel
(``EmailChannel.send_many``: render + SMTP, no database, no journal) to the same sink.

WhatsApp: N notifications drained by ``deliver_batch`` to the local Cloud API fake (a thread),
the token bucket set to ``--whatsapp-rate`` (default 80/s, the Cloud API's standard
throughput). The channel is composed here rather than from the settings because outside
production the factory puts WhatsApp in sandbox mode (nothing would reach the fake).

Duplicates are counted on the receiving side: Message-IDs in the sink's .eml files, and
``biz_opaque_callback_data`` keys at the fake. Database ``contab_bench_notify`` (re-created).
"""

from __future__ import annotations

import argparse
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DB = "contab_bench_notify"
CONTEXT = {
    "empresa": "Padaria Pão Bom Ltda",
    "competencia": "2026-05",
    "itens_faltantes": ["NF-e de entrada", "extrato bancário"],
}


def _setup(tmp: Path, mail_port: int) -> None:
    from benchenv import setup

    setup(DB, tmp, REDIS_DB="8", MAIL_HOST="127.0.0.1", MAIL_PORT=str(mail_port))


def _queue(n: int, channel: str) -> None:
    from app.db import session_scope
    from app.notifications.outbox import Recipient, enqueue_many, notification_rows

    rows = []
    for i in range(n):
        address = f"cliente{i}@example.com.br" if channel == "email" else f"+55 11 9{i:08d}"
        rows += notification_rows(
            key=f"bench:{i}",
            recipients=[Recipient(channel, address, f"Cliente {i}")],
            template="lembrete_solicitacao",
            context=CONTEXT,
        )
    with session_scope() as s:
        enqueue_many(s, rows)


def _drain(senders: object) -> tuple[int, float]:
    from app.db import session_scope
    from app.notifications.delivery import deliver_batch

    sent, start = 0, time.perf_counter()
    while True:
        report = deliver_batch(transaction=session_scope, senders=senders, limit=500)  # type: ignore[arg-type]
        sent += report.get("enviadas", 0)
        if report["reivindicadas"] == 0:
            return sent, time.perf_counter() - start


def _drain_with_task() -> tuple[int, float]:
    """Run the ``enviar-notificacoes`` batch task (its plain function) until the outbox is empty."""
    from tasks.notifications import send_notifications_batch

    sent, start = 0, time.perf_counter()
    while True:
        report = send_notifications_batch.fn(limit=500)
        sent += report.get("enviadas", 0)
        if report["reivindicadas"] == 0:
            return sent, time.perf_counter() - start


def _wait_port(port: int) -> None:
    from app.localservices import port_open

    deadline = time.monotonic() + 20
    while not port_open("127.0.0.1", port):
        if time.monotonic() > deadline:
            raise RuntimeError("mail sink did not start")
        time.sleep(0.1)


def bench_email(n: int, tmp: Path, port: int) -> None:
    """Outbox → SMTP sink (another process) vs the bare channel."""
    import tasks.notifications  # noqa: F401  (imports Prefect: outside the timed part)
    from app.cache import get_redis
    from app.localservices import free_port
    from app.notify.base import Message
    from app.notify.factory import email_channel, email_limiter

    mail_dir = tmp / "mail"
    sink = subprocess.Popen(
        [sys.executable, "-m", "app.notify.mailsink", "--smtp-port", str(port),
         "--http-port", str(free_port()), "--dir", str(mail_dir)],
        cwd=ROOT, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_port(port)
        channel = email_channel()  # what the task builds from MAIL_HOST/MAIL_PORT
        limiter = email_limiter(get_redis())
        base_n = min(n, 2000)
        messages = [
            Message("email", f"base{i}@example.com.br", "lembrete_solicitacao", f"base:{i}",
                    {**CONTEXT, "nome": "Cliente"})
            for i in range(base_n)
        ]  # fmt: skip
        # The bare channel is measured before and after the outbox run (the mean is the
        # baseline), so a machine busy with something else skews both sides alike.
        t0 = time.perf_counter()
        channel.send_many(messages)
        before = time.perf_counter() - t0
        _queue(n, "email")
        sent, seconds = _drain_with_task()
        t0 = time.perf_counter()
        channel.send_many([replace(m, idempotency_key=m.idempotency_key + ":2") for m in messages])
        base_rate = 2 * base_n / (before + time.perf_counter() - t0)
        base_n *= 2
        deadline = time.monotonic() + 30
        while len(list(mail_dir.glob("*.eml"))) < base_n + sent and time.monotonic() < deadline:
            time.sleep(0.2)
        ids = Counter(
            line
            for path in mail_dir.glob("*.eml")
            for line in path.read_bytes().split(b"\r\n", 40)[:40]
            if line.lower().startswith(b"message-id:")
        )
    finally:
        sink.terminate()
        sink.wait(10)
    rate = sent / seconds
    duplicates = sum(c - 1 for c in ids.values())
    print(
        f"e-mail    {sent:6d} sent in {seconds:6.1f} s = {rate:7.1f} msg/s  (target ≥ 200)"
        f"  | bare channel {base_rate:7.1f} msg/s, outbox = {rate / base_rate:.0%} of it"
        f"  | duplicates {duplicates}"
        f"  | e-mail rate limit {'off' if limiter is None else f'{limiter.rate_per_s:g}/s'}"
    )


def bench_whatsapp(n: int, rate: float) -> None:
    """Outbox → Cloud API fake at the configured token-bucket rate."""
    from app.cache import get_redis
    from app.notifications.delivery import Senders
    from app.notify.factory import rate_limiter
    from app.notify.whatsapp import WhatsAppChannel, WhatsAppConfig
    from tests.support.whatsapp_fake import WhatsAppFake

    redis = get_redis()
    with WhatsAppFake() as fake:
        config = WhatsAppConfig(fake.token, fake.phone_number_id, base_url=fake.base_url)
        limiter = rate_limiter(redis, f"bench:whatsapp:{secrets.token_hex(4)}", rate)
        with WhatsAppChannel(config, limiter=limiter) as channel:
            _queue(n, "whatsapp")
            sent, seconds = _drain(Senders(redis=redis, whatsapp=channel))
        keys = Counter(m.body["biz_opaque_callback_data"] for m in fake.messages)
    duplicates = sum(c - 1 for c in keys.values())
    got = sent / seconds
    print(
        f"WhatsApp  {sent:6d} sent in {seconds:6.1f} s = {got:7.1f} msg/s  (rate limit {rate:g}/s,"
        f" {got / rate:.0%} of it; the first second is the bucket's burst)"
        f"  | 429 answered {fake.requests - len(fake.messages)} | duplicates {duplicates}"
    )


def main() -> None:
    """Print one line per channel."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--whatsapp-n", type=int, default=None)
    parser.add_argument("--whatsapp-rate", type=float, default=80.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="contab-bench-notify-") as tmp:
        from app.localservices import free_port

        mail_port = free_port()
        _setup(Path(tmp), mail_port)
        bench_email(args.n, Path(tmp), mail_port)
        from sqlalchemy import text

        from app.db import get_engine

        with get_engine().begin() as conn:
            conn.execute(text("TRUNCATE notifications RESTART IDENTITY CASCADE"))
        bench_whatsapp(args.whatsapp_n or args.n, args.whatsapp_rate)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:.0f} MiB")


if __name__ == "__main__":
    main()
