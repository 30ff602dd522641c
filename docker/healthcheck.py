"""Container health probe: GET the role's health URL, exit 0 on HTTP 200, 1 otherwise.

The URL comes from $CONTAB_HEALTHCHECK_URL, else the file written by docker/entrypoint.sh
(/app/var/healthcheck-url), else the API liveness endpoint. "none" means a one-shot role.
Standard library only: python:3.11-slim ships no curl or wget.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

DEFAULT_URL = "http://127.0.0.1:8000/api/live"
URL_FILE = Path(os.environ.get("CONTAB_HEALTHCHECK_FILE", "/app/var/healthcheck-url"))
TIMEOUT_SECONDS = 4.0


def target_url() -> str:
    """Return the URL to probe for the role this container runs."""
    explicit = os.environ.get("CONTAB_HEALTHCHECK_URL", "").strip()
    if explicit:
        return explicit
    try:
        written = URL_FILE.read_text(encoding="utf-8").strip()
    except OSError:
        written = ""
    return written or DEFAULT_URL


def main() -> int:
    """Probe the health URL once and return the process exit code."""
    url = target_url()
    if url == "none":
        return 0
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            return 0 if response.status == 200 else 1
    except (urllib.error.URLError, OSError) as exc:
        print(f"unhealthy: {url}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
