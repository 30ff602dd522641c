"""Storage fixtures: one SeaweedFS S3 server per session (real signatures and expiry)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.s3server import S3Server, start_s3


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """A running `weed mini` with an access/secret key pair."""
    server = start_s3(Path(tempfile.mkdtemp(prefix="contab-s3-")) / "s3")
    try:
        yield server
    finally:
        server.stop()
