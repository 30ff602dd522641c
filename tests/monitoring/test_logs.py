"""Logs: JSON lines with request/flow-run ids, LOG_CHANNEL honoured, shipped to Loki.

No Grafana Loki is packaged for Debian (the Debian package ``loki`` is a genetics program), so
shipping is checked against a stand-in honouring Loki's HTTP API: ``POST /loki/api/v1/push``
(JSON streams of ``[<unix ns>, <line>]``, 204) and ``GET /loki/api/v1/query_range`` answering a
LogQL stream selector with a line filter (``{app="contab"} |= "<text>"``).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

_SELECTOR = re.compile(r'^\{(?P<labels>[^}]*)\}\s*(?:\|=\s*"(?P<needle>[^"]*)")?\s*$')


class _Loki(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path != "/loki/api/v1/push" or "json" not in self.headers.get("Content-Type", ""):
            self.send_response(400)
            self.end_headers()
            return
        for stream in json.loads(body)["streams"]:
            for ts, line in stream["values"]:
                assert ts.isdigit() and isinstance(line, str)
                self.server.entries.append((stream["stream"], ts, line))  # type: ignore[attr-defined]
        self.send_response(204)
        self.end_headers()

    def do_GET(self) -> None:  # noqa: N802
        url = urlparse(self.path)
        m = _SELECTOR.match(parse_qs(url.query).get("query", [""])[0])
        if url.path != "/loki/api/v1/query_range" or m is None:
            self.send_response(400)
            self.end_headers()
            return
        wanted = dict(re.findall(r'(\w+)="([^"]*)"', m["labels"]))
        needle = m["needle"] or ""
        hits: dict[str, dict[str, Any]] = {}
        for labels, ts, line in self.server.entries:  # type: ignore[attr-defined]
            if all(labels.get(k) == v for k, v in wanted.items()) and needle in line:
                key = json.dumps(labels, sort_keys=True)
                hits.setdefault(key, {"stream": labels, "values": []})["values"].append([ts, line])
        out = {
            "status": "success",
            "data": {"resultType": "streams", "result": list(hits.values())},
        }
        payload = json.dumps(out).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def loki() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Loki)
    server.entries = []  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def logging_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    from app.settings import get_settings

    saved = logging.getLogger().handlers[:], logging.getLogger().level
    yield monkeypatch
    from app.monitoring.logs import _OURS

    root = logging.getLogger()
    for h in [h for h in root.handlers if getattr(h, _OURS, False)]:
        root.removeHandler(h)
        h.close()
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    monkeypatch.undo()
    get_settings.cache_clear()


def test_flow_line_reaches_loki_and_is_found_by_flow_run_id(
    loki: str, logging_env: pytest.MonkeyPatch
) -> None:
    from app.monitoring.logs import LokiHandler, configure_logging
    from app.settings import get_settings

    run_id = str(uuid.uuid4())
    logging_env.setenv("LOKI_URL", loki)
    logging_env.setenv("LOG_CHANNEL", "stack")
    logging_env.setenv("PREFECT__FLOW_RUN_ID", run_id)  # what the worker gives a run's process
    get_settings.cache_clear()
    handlers = configure_logging("flow")
    shipper = next(h for h in handlers if isinstance(h, LokiHandler))
    logging.getLogger("contab.flows.guias").info("Guias geradas: %s", 12)
    logging.getLogger("contab.flows.guias").info("outra execução")  # same run, other line
    shipper.flush()
    query = f'{{app="contab",component="flow"}} |= "{run_id}"'
    resp = httpx.get(f"{loki}/loki/api/v1/query_range", params={"query": query})
    streams = resp.json()["data"]["result"]
    lines = [json.loads(line) for s in streams for _, line in s["values"]]
    assert [ln["message"] for ln in lines] == ["Guias geradas: 12", "outra execução"]
    first = lines[0]
    assert first["flow_run_id"] == run_id and first["level"] == "info"
    assert first["logger"] == "contab.flows.guias" and first["component"] == "flow"
    assert streams[0]["stream"] == {
        "app": "contab",
        "env": "dev",
        "component": "flow",
        "level": "info",
    }


def test_api_lines_carry_the_request_id(loki: str, logging_env: pytest.MonkeyPatch) -> None:
    from fastapi.testclient import TestClient

    from app.api.main import create_app
    from app.monitoring.logs import LokiHandler, configure_logging
    from app.settings import get_settings

    logging_env.setenv("LOKI_URL", loki)
    logging_env.setenv("LOG_CHANNEL", "loki")
    get_settings.cache_clear()
    app = create_app()

    @app.get("/api/teste-log")
    def _logs() -> dict[str, str]:
        logging.getLogger("contab.api").warning("linha da requisição")
        return {}

    shipper = next(h for h in configure_logging("api") if isinstance(h, LokiHandler))
    with TestClient(app) as client:
        resp = client.get("/api/teste-log", headers={"X-Request-ID": "req-123abc"})
    assert resp.headers["x-request-id"] == "req-123abc"
    shipper.flush()
    got = httpx.get(
        f"{loki}/loki/api/v1/query_range", params={"query": '{app="contab"} |= "req-123abc"'}
    ).json()
    lines = [json.loads(v[1]) for s in got["data"]["result"] for v in s["values"]]
    assert lines and lines[0]["request_id"] == "req-123abc"
    assert lines[0]["message"] == "linha da requisição" and lines[0]["level"] == "warning"


@pytest.mark.parametrize("channel", ["single", "daily"])
def test_file_channels_write_json_lines(
    channel: str, tmp_path: Path, logging_env: pytest.MonkeyPatch
) -> None:
    from app.monitoring.logs import configure_logging
    from app.settings import get_settings

    logging_env.setenv("LOG_CHANNEL", channel)
    logging_env.setenv("LOG_DIR", str(tmp_path))
    get_settings.cache_clear()
    handlers = configure_logging("cli")
    try:
        raise RuntimeError("quebrou")
    except RuntimeError:
        logging.getLogger("contab.cli").exception("falha no comando")
    for h in handlers:
        h.flush()
    rows = [json.loads(x) for x in (tmp_path / "contab.log").read_text().splitlines()]
    assert rows[-1]["message"] == "falha no comando" and rows[-1]["level"] == "error"
    assert "RuntimeError: quebrou" in rows[-1]["exc"]


def test_unknown_channel_is_refused(logging_env: pytest.MonkeyPatch) -> None:
    from app.monitoring.logs import configure_logging

    with pytest.raises(ValueError, match="LOG_CHANNEL"):
        configure_logging("api", channel="papel")
