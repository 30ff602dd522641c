"""docker/healthcheck.py against a real local HTTP server: 200 is healthy, 503 or silence not."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "docker" / "healthcheck.py"


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.send_response(200 if self.path == "/api/live" else 503)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def probe(tmp_path: Path, url_in_file: str | None, url_in_env: str = "") -> int:
    """Run the probe as Docker's HEALTHCHECK would and return its exit code."""
    url_file = tmp_path / "url"
    if url_in_file is not None:
        url_file.write_text(url_in_file + "\n")
    env = {"CONTAB_HEALTHCHECK_FILE": str(url_file), "CONTAB_HEALTHCHECK_URL": url_in_env}
    return subprocess.run([sys.executable, str(SCRIPT)], env=env, timeout=30).returncode


def test_healthy_when_the_role_url_answers_200(server: str, tmp_path: Path) -> None:
    assert probe(tmp_path, f"{server}/api/live") == 0


def test_unhealthy_on_503(server: str, tmp_path: Path) -> None:
    assert probe(tmp_path, f"{server}/api/health") == 1


def test_unhealthy_when_nothing_listens(server: str, tmp_path: Path) -> None:
    assert probe(tmp_path, None, url_in_env="http://127.0.0.1:9/api/live") == 1


def test_one_shot_roles_are_always_healthy(tmp_path: Path) -> None:
    assert probe(tmp_path, "none") == 0


def test_explicit_url_wins_over_the_file(server: str, tmp_path: Path) -> None:
    assert probe(tmp_path, f"{server}/api/health", url_in_env=f"{server}/api/live") == 0
