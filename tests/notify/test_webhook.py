"""WhatsApp status webhooks: signature, handshake and parsing, over real HTTP."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from app.errors import InvalidInput
from app.notify.webhook import SIGNATURE_HEADER, sign_webhook
from app.notify.whatsapp import (
    StatusUpdate,
    parse_status_webhook,
    verify_subscription,
    verify_webhook_signature,
)
from tests.support.whatsapp_fake import WhatsAppFake, status

SECRET = "segredo-do-app"


def test_signature_accepts_the_exact_body_only() -> None:
    body = b'{"object":"whatsapp_business_account","entry":[]}'
    header = sign_webhook(SECRET, body)
    assert header.startswith("sha256=") and len(header) == 7 + 64
    assert verify_webhook_signature(SECRET, body, header) is True
    assert verify_webhook_signature(SECRET, body + b" ", header) is False  # tampered body
    assert verify_webhook_signature("outro-segredo", body, header) is False
    assert verify_webhook_signature(SECRET, body, header.removeprefix("sha256=")) is False
    assert verify_webhook_signature(SECRET, body, "") is False
    assert verify_webhook_signature(SECRET, body, None) is False
    assert verify_webhook_signature("", body, header) is False


def test_subscription_handshake_echoes_the_challenge_only_for_our_token() -> None:
    params = {"hub.mode": "subscribe", "hub.verify_token": "tok", "hub.challenge": "1158201444"}
    assert verify_subscription(params, "tok") == "1158201444"
    assert verify_subscription({**params, "hub.verify_token": "x"}, "tok") is None
    assert verify_subscription({**params, "hub.mode": "unsubscribe"}, "tok") is None
    assert verify_subscription(params, "") is None


class _Receiver:
    """A minimal webhook endpoint built on the public helpers, as the API will use them."""

    def __init__(self) -> None:
        self.accepted: list[StatusUpdate] = []
        self.rejected = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                if not verify_webhook_signature(SECRET, raw, self.headers.get(SIGNATURE_HEADER)):
                    receiver.rejected += 1
                    self.send_response(401)
                else:
                    receiver.accepted.extend(parse_status_webhook(json.loads(raw)))
                    self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/whatsapp"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    r = _Receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()


def test_signed_status_webhook_is_verified_and_parsed(
    wa_fake: WhatsAppFake, receiver: _Receiver
) -> None:
    failure = {
        "code": 131026,
        "title": "Message undeliverable",
        "message": "Message undeliverable",
        "error_data": {"details": "Receiver is incapable of receiving this message"},
    }
    statuses = [
        status("wamid.A", "sent", "5511987654321", timestamp=1780000000, callback_data="k:1"),
        status("wamid.A", "delivered", "5511987654321", timestamp=1780000005),
        status("wamid.A", "read", "5511987654321", timestamp=1780000060),
        status("wamid.B", "failed", "5521999990000", timestamp=1780000001, errors=[failure]),
    ]
    response = wa_fake.post_status_webhook(receiver.url, SECRET, statuses)

    assert response.status_code == 200
    sent, delivered, read, failed = receiver.accepted
    assert (sent.provider_id, sent.status, sent.idempotency_key) == ("wamid.A", "sent", "k:1")
    assert sent.timestamp == datetime.fromtimestamp(1780000000, tz=UTC)
    assert sent.phone_number_id == wa_fake.phone_number_id
    assert [delivered.status, read.status] == ["delivered", "read"]
    assert failed.recipient_id == "5521999990000"
    assert failed.errors[0].code == 131026
    assert failed.errors[0].details == "Receiver is incapable of receiving this message"


def test_webhook_with_a_forged_signature_is_refused(
    wa_fake: WhatsAppFake, receiver: _Receiver
) -> None:
    forged = sign_webhook("segredo-errado", b"{}")
    response = wa_fake.post_status_webhook(
        receiver.url, SECRET, [status("wamid.X", "read", "5511987654321")], signature=forged
    )
    assert response.status_code == 401
    assert receiver.rejected == 1 and receiver.accepted == []


def test_incoming_messages_without_statuses_yield_nothing() -> None:
    payload = {"entry": [{"changes": [{"value": {"messages": [{"id": "wamid.in"}]}}]}]}
    assert parse_status_webhook(payload) == []


def test_malformed_status_is_invalid_input() -> None:
    payload = {"entry": [{"changes": [{"value": {"statuses": [{"status": "sent"}]}}]}]}
    with pytest.raises(InvalidInput):
        parse_status_webhook(payload)


@pytest.mark.parametrize("timestamp", ["100000000000000000000", 1e300, "-100000000000000000000"])
def test_out_of_range_timestamp_is_invalid_input(timestamp: object) -> None:
    # datetime.fromtimestamp raises OverflowError beyond time_t: a 422, not a 500.
    status = {"id": "wamid.x", "status": "delivered", "timestamp": timestamp}
    payload = {"entry": [{"changes": [{"value": {"statuses": [status]}}]}]}
    with pytest.raises(InvalidInput):
        parse_status_webhook(payload)
