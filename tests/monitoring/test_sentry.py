"""Errors reach Sentry's ingestion endpoint scrubbed: from an API request and from a flow run.

The stand-in speaks the real contract: ``POST /api/<project>/envelope/`` with an envelope
(newline-delimited JSON: envelope header, item header, item payload), possibly gzip-compressed,
authenticated by the ``X-Sentry-Auth`` header carrying the DSN's public key.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

CNPJ, CPF = "11.222.333/0001-81", "123.456.789-09"
EMAIL, PHONE, TOKEN = "joao.silva@cliente.com.br", "+55 (11) 99876-5432", "ctb_" + "S3cr3t" * 5
SECRETS = (CNPJ, CPF, EMAIL, "99876-5432", TOKEN, "11222333000181", "conteudo-do-xml")


class _Ingest(BaseHTTPRequestHandler):
    received: list[dict[str, Any]]
    raw: list[bytes]

    def do_POST(self) -> None:  # noqa: N802 - http.server's API
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        enc = self.headers.get("Content-Encoding", "")
        if enc == "gzip":
            body = gzip.decompress(body)
        elif enc == "deflate":
            body = zlib.decompress(body)
        elif enc == "br":  # pragma: no cover - only when brotli is installed
            import brotli

            body = brotli.decompress(body)
        ok = self.path == "/api/42/envelope/" and "sentry_key=publickey" in self.headers.get(
            "X-Sentry-Auth", ""
        )
        if ok:
            self.server.raw.append(body)  # type: ignore[attr-defined]
            lines = body.split(b"\n")
            for i in range(1, len(lines) - 1, 2):
                header = json.loads(lines[i])
                if header.get("type") == "event":
                    self.server.events.append(json.loads(lines[i + 1]))  # type: ignore[attr-defined]
        self.send_response(200 if ok else 403)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"id": "ok"}')

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def sentry(monkeypatch: pytest.MonkeyPatch) -> Iterator[ThreadingHTTPServer]:
    from app.settings import get_settings

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ingest)
    server.events, server.raw = [], []  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("SENTRY_DSN", f"http://publickey@127.0.0.1:{server.server_port}/42")
    monkeypatch.setenv("APP_VERSION", "9.9.9")
    get_settings.cache_clear()
    yield server
    import sentry_sdk

    from app.monitoring import errors

    sentry_sdk.get_client().close()
    sentry_sdk.init(dsn=None)
    errors._initialised.clear()
    server.shutdown()
    monkeypatch.undo()
    get_settings.cache_clear()


def _wait(server: Any, n: int) -> list[dict[str, Any]]:
    import sentry_sdk

    sentry_sdk.flush(timeout=5)
    deadline = time.monotonic() + 10
    while len(server.events) < n and time.monotonic() < deadline:
        time.sleep(0.05)
    return list(server.events)


def _assert_scrubbed(server: Any) -> None:
    everything = b"\n".join(server.raw).decode()
    for secret in SECRETS:
        assert secret not in everything, everything[max(0, everything.find(secret) - 400) :][:600]


def test_api_error_arrives_scrubbed(sentry: Any) -> None:
    from fastapi.testclient import TestClient

    from app.api.main import create_app

    app = create_app()

    @app.post("/api/teste-falha")
    async def _boom(payload: dict[str, Any]) -> None:
        raise RuntimeError(
            f"falha para {EMAIL} CNPJ {CNPJ} CPF {CPF} fone {PHONE} token {TOKEN} "
            f"campos {sorted(payload)}"  # the body itself must never travel
        )

    with TestClient(app, raise_server_exceptions=False) as client:
        resp = client.post(
            "/api/teste-falha?cnpj=11222333000181",
            json={"xml": "conteudo-do-xml", "cnpj": CNPJ},
            headers={"Authorization": f"Bearer {TOKEN}", "X-Email": EMAIL},
        )
    assert resp.status_code == 500
    assert resp.json()["erro"]["codigo"] == "erro_interno"
    events = _wait(sentry, 1)
    assert events, "nenhum evento chegou ao Sentry"
    event = events[0]
    assert event["environment"] == "dev"
    assert event["release"] == "contab@9.9.9"
    exc = event["exception"]["values"][-1]
    assert exc["type"] == "RuntimeError"
    assert "[e-mail]" in exc["value"] and "[cnpj]" in exc["value"] and "[token]" in exc["value"]
    assert set(event.get("request", {})) <= {"method", "url"}
    _assert_scrubbed(sentry)


def test_flow_failure_arrives_scrubbed(sentry: Any) -> None:
    """The failure hook every flow gets from tasks.defaults.flow_defaults, called as Prefect
    calls it when a run ends Failed (flow, flow run, final state)."""
    from uuid import uuid4

    from prefect import flow
    from prefect.client.schemas.objects import FlowRun
    from prefect.states import Failed

    from tasks.defaults import flow_defaults

    @flow(name="fluxo-que-falha", **flow_defaults(60))
    def failing() -> None:
        raise ValueError(f"empresa {CNPJ} contato {EMAIL}")

    hooks = failing.on_failure_hooks
    assert hooks and failing.on_crashed_hooks
    try:
        failing.fn()
    except ValueError as exc:
        error = exc
    run = FlowRun(id=uuid4(), flow_id=uuid4(), name="execucao-teste")
    state = Failed(message=f"Flow run failed: {error}", data=error)
    for hook in hooks:
        hook(failing, run, state)
    events = _wait(sentry, 1)
    assert events, "nenhum evento chegou ao Sentry"
    event = events[0]
    assert event["tags"]["flow"] == "fluxo-que-falha"
    assert event["tags"]["flow_run_id"] == str(run.id)
    assert event["tags"]["component"] == "flow"
    assert event["exception"]["values"][-1]["type"] == "ValueError"
    _assert_scrubbed(sentry)
