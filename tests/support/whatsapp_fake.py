"""A local WhatsApp Business Cloud API playing the real contract, with programmable faults.

Shapes follow Meta's docs: success ``{"messaging_product", "contacts", "messages":[{"id"}]}``;
errors ``{"error": {"message", "type", "code", "error_subcode"?, "error_data"?, "fbtrace_id"}}``
(https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes).
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from app.notify.mailsink import free_port
from app.notify.webhook import SIGNATURE_HEADER, sign_webhook

__all__ = ["SentMessage", "WhatsAppFake", "status"]

_TO = re.compile(r"^\+?\d{8,15}$")
_PARAM_TYPES = {"text", "currency", "date_time", "image", "document", "video"}


@dataclass(frozen=True)
class SentMessage:
    """One accepted request: its id, body and headers."""

    wamid: str
    phone_number_id: str
    body: dict[str, Any]
    headers: dict[str, str]


@dataclass
class _Fault:
    status: int
    code: int | None
    retry_after: str | None


@dataclass
class _Bucket:
    rate: float
    burst: float
    tokens: float
    stamp: float = field(default_factory=time.monotonic)

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


def _error(code: int, message: str, subcode: int | None = None, details: str = "") -> dict:
    error: dict[str, Any] = {
        "message": message,
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": secrets.token_urlsafe(12),
    }
    if subcode is not None:
        error["error_subcode"] = subcode
    if details:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    return {"error": error}


_MESSAGES = {
    1: "An unknown error occurred",
    2: "Service temporarily unavailable",
    100: "(#100) Invalid parameter",
    130429: "(#130429) Rate limit hit",
    131000: "(#131000) Something went wrong",
    131026: "(#131026) Message Undeliverable.",
    131047: "(#131047) Re-engagement message",
    131050: "(#131050) User has stopped receiving marketing messages",
    131051: "(#131051) Unsupported message type",
    132000: "(#132000) Number of parameters does not match the expected number of params",
    132001: "(#132001) Template name does not exist in the translation",
}


def _validate(body: Any) -> str | None:
    """Why the request body breaks the Cloud API contract, or None."""
    if not isinstance(body, dict):
        return "Request body must be a JSON object"
    if body.get("messaging_product") != "whatsapp":
        return "The parameter messaging_product is required and must be 'whatsapp'"
    if not isinstance(body.get("to"), str) or not _TO.match(body["to"]):
        return "The parameter to is invalid"
    kind = body.get("type", "text")
    if kind == "document":
        doc = body.get("document")
        if not isinstance(doc, dict) or not str(doc.get("link", "")).startswith("http"):
            return "document.link must be an http(s) URL"
        return None
    if kind != "template":
        return f"Unsupported message type {kind!r} for business-initiated messages"
    template = body.get("template")
    if not isinstance(template, dict) or not isinstance(template.get("name"), str):
        return "template.name is required"
    if not isinstance((template.get("language") or {}).get("code"), str):
        return "template.language.code is required"
    for component in template.get("components", []):
        if component.get("type") not in {"header", "body", "button"}:
            return "component.type must be header, body or button"
        if component["type"] == "button" and (
            component.get("sub_type") not in {"url", "quick_reply"} or "index" not in component
        ):
            return "button components need sub_type and index"
        for param in component.get("parameters", []):
            if param.get("type") not in _PARAM_TYPES:
                return "parameter.type is invalid"
            if param["type"] == "text":
                text = param.get("text")
                if not isinstance(text, str) or not text or re.search(r"[\n\t]| {5,}", text):
                    return "Param text cannot be empty or have new-line/tab or 4+ spaces"
            if param["type"] == "document" and not str(
                (param.get("document") or {}).get("link", "")
            ).startswith("http"):
                return "document.link must be an http(s) URL"
    return None


class WhatsAppFake:
    """The fake Cloud API server; ``base_url`` goes into WhatsAppConfig."""

    def __init__(
        self,
        token: str = "token-de-teste",
        phone_number_id: str = "109876543210987",
        version: str = "v21.0",
    ) -> None:
        self.token = token
        self.phone_number_id = phone_number_id
        self.version = version
        self.port = free_port()
        self.messages: list[SentMessage] = []
        self.requests = 0
        self._lock = threading.Lock()
        self._faults: deque[_Fault] = deque()
        self._number_codes: dict[str, tuple[int, int]] = {}
        self._bucket: _Bucket | None = None
        self._server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        """The Graph API base URL of this fake, version included."""
        return f"http://127.0.0.1:{self.port}/{self.version}"

    # faults -------------------------------------------------------------------------------
    def fail_next(
        self, count: int = 1, *, status: int = 429, code: int | None = None, retry_after=None
    ) -> None:
        """Answer the next ``count`` valid requests with this HTTP status / Cloud API code."""
        if code is None:
            code = 130429 if status == 429 else 2
        with self._lock:
            ra = None if retry_after is None else str(retry_after)
            self._faults.extend(_Fault(status, code, ra) for _ in range(count))

    def fail_number(self, number: str, code: int = 131026, status: int = 400) -> None:
        """Every message to ``number`` (E.164 digits) gets this Cloud API error."""
        with self._lock:
            self._number_codes[number] = (status, code)

    def rate_limit(self, rate_per_s: float, burst: int) -> None:
        """Server-side token bucket: beyond it, 429 with code 130429."""
        with self._lock:
            self._bucket = _Bucket(rate_per_s, burst, burst)

    # lifecycle ----------------------------------------------------------------------------
    def start(self) -> WhatsAppFake:
        """Serve on 127.0.0.1 from a daemon thread."""
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self))
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> WhatsAppFake:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # request handling ---------------------------------------------------------------------
    def handle(self, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, dict, dict]:
        """Decide the answer for one POST: (status, json body, extra headers)."""
        with self._lock:
            self.requests += 1
        if headers.get("authorization") != f"Bearer {self.token}":
            return 401, _error(190, "Invalid OAuth access token - Cannot parse access token"), {}
        match = re.fullmatch(rf"/{re.escape(self.version)}/([^/]+)/messages", path)
        if not match:
            return 400, _error(2500, "Unknown path components: " + path), {}
        if match[1] != self.phone_number_id:
            msg = f"Unsupported post request. Object with ID '{match[1]}' does not exist"
            return 400, _error(100, msg, subcode=33), {}
        try:
            body = json.loads(raw)
        except ValueError:
            return 400, _error(100, _MESSAGES[100], details="Invalid JSON"), {}
        problem = _validate(body)
        if problem:
            return 400, _error(100, _MESSAGES[100], details=problem), {}
        with self._lock:
            fault = self._faults.popleft() if self._faults else None
            limited = self._bucket is not None and not self._bucket.take()
            number_fault = self._number_codes.get(body["to"].lstrip("+"))
        if fault is not None:
            extra = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            code = fault.code or 2
            return fault.status, _error(code, _MESSAGES.get(code, "Error")), extra
        if limited:
            details = "Cloud API message throughput has been reached."
            return 429, _error(130429, _MESSAGES[130429], details=details), {}
        if number_fault is not None:
            http_status, code = number_fault
            return http_status, _error(code, _MESSAGES.get(code, "Error")), {}
        wamid = "wamid." + secrets.token_urlsafe(24)
        with self._lock:
            self.messages.append(SentMessage(wamid, match[1], body, headers))
        answer = {
            "messaging_product": "whatsapp",
            "contacts": [{"input": body["to"], "wa_id": body["to"].lstrip("+")}],
            "messages": [{"id": wamid, "message_status": "accepted"}],
        }
        return 200, answer, {}

    # webhooks -----------------------------------------------------------------------------
    def post_status_webhook(
        self, url: str, app_secret: str, statuses: list[dict[str, Any]], *, signature=None
    ) -> httpx.Response:
        """POST a signed ``statuses`` webhook (as Meta does) to ``url``."""
        raw, headers = status_webhook(
            app_secret, statuses, phone_number_id=self.phone_number_id, signature=signature
        )
        return httpx.post(url, content=raw, headers=headers, timeout=5.0)


def status_webhook(
    app_secret: str,
    statuses: list[dict[str, Any]],
    *,
    phone_number_id: str = "109876543210987",
    signature: str | None = None,
) -> tuple[bytes, dict[str, str]]:
    """The body and headers of a ``statuses`` webhook as Meta sends it, signed with
    ``app_secret`` (or carrying ``signature`` as given)."""
    payload = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "551130000000",
                                "phone_number_id": phone_number_id,
                            },
                            "statuses": statuses,
                        },
                    }
                ],
            }
        ],
    }
    raw = json.dumps(payload).encode()
    header = signature if signature is not None else sign_webhook(app_secret, raw)
    return raw, {"Content-Type": "application/json", SIGNATURE_HEADER: header}


def status(
    wamid: str,
    state: str,
    recipient_id: str,
    *,
    timestamp: int | None = None,
    errors: list[dict[str, Any]] | None = None,
    callback_data: str | None = None,
) -> dict[str, Any]:
    """One ``statuses[]`` item as the Cloud API sends it."""
    item: dict[str, Any] = {
        "id": wamid,
        "status": state,
        "timestamp": str(timestamp if timestamp is not None else int(time.time())),
        "recipient_id": recipient_id,
    }
    if callback_data is not None:
        item["biz_opaque_callback_data"] = callback_data
    if errors:
        item["errors"] = errors
    return item


def _handler(fake: WhatsAppFake) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, like graph.facebook.com
        disable_nagle_algorithm = True  # headers and body are separate writes

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            status_code, body, extra = fake.handle(self.path, headers, raw)
            data = json.dumps(body).encode()
            self.send_response(status_code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler
