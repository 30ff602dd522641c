"""Test helpers: the API served for real (uvicorn in a thread) and a real Prometheus scraping it."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "deployments" / "monitoring"


def require(tool: str) -> str:
    """The tool's path; a clear failure (never a skip) when it is missing."""
    path = shutil.which(tool)
    if path is None:
        pytest.fail(
            f"{tool} ausente: rode `make tools` (instala o pacote Debian 'prometheus' como root)"
        )
    return path


def wait_http(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} não respondeu em {timeout:.0f} s")


class ServedApi:
    """create_app() under uvicorn on a loopback port, in a daemon thread."""

    def __init__(self, port: int) -> None:
        import uvicorn

        from app.api.main import create_app

        self.port = port
        config = uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        wait_http(f"http://127.0.0.1:{port}/api/live")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


class Prometheus:
    """A real Prometheus (Debian package) scraping ``target`` every ``every`` seconds (3 s),
    with rule files."""

    def __init__(
        self, tmp: Path, port: int, target: str, rule_files: list[Path], every: int = 3
    ) -> None:
        binary = require("prometheus")
        config = {
            # a scrape on a loaded 2-core machine can take over a second: room before timeout
            "global": {
                "scrape_interval": f"{every}s",
                "scrape_timeout": f"{every}s",
                "evaluation_interval": "1s",
            },
            "rule_files": [str(p) for p in rule_files],
            "scrape_configs": [
                {
                    "job_name": "contab-api",
                    "metrics_path": "/metrics",
                    "static_configs": [{"targets": [target]}],
                }
            ],
        }
        (tmp / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.url = f"http://127.0.0.1:{port}"
        self.log = (tmp / "prometheus.log").open("wb")
        self.proc = subprocess.Popen(
            [
                binary,
                f"--config.file={tmp / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--web.enable-lifecycle",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        wait_http(self.url + "/-/ready")

    def query(self, expr: str) -> list[dict[str, Any]]:
        resp = httpx.get(self.url + "/api/v1/query", params={"query": expr}, timeout=10)
        resp.raise_for_status()
        return list(resp.json()["data"]["result"])

    def wait_series(self, expr: str, timeout: float = 30.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.query(expr)
            if got:
                return got
            time.sleep(0.5)
        return []

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
