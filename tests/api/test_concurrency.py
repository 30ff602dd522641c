"""Many concurrent clients: one integration token shared by 64 requests, 100 health requests.

The app runs in-process behind httpx's ASGI transport: requests really run concurrently (sync
handlers on the server's thread pool, async ones on the loop) against the real PostgreSQL and
Redis. Prefect is unreachable here (no server in these tests), which the upload path tolerates.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from prefect.settings import PREFECT_API_URL, temporary_settings
from sqlalchemy import text

from app.db import session_scope
from tests.api.conftest import auth
from tests.support.generator import make_nfe

OTHER = "99888777000136"


async def _burst(requests: list[tuple[str, str, dict[str, Any]]]) -> list[httpx.Response]:
    from app.api.main import create_app

    transport = httpx.ASGITransport(app=create_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://contab", timeout=60) as c:
        return await asyncio.gather(*(c.request(m, url, **kw) for m, url, kw in requests))


def _token_row(token: str) -> tuple[int | None, datetime | None]:
    """(row version, last_used_at) of the token's row. The version is PostgreSQL's ``xmin``
    (changed by any UPDATE); MySQL has none, so there ``last_used_at`` — the one column a request
    could write — is the witness (None for the version)."""
    from app.platform.tokens import hash_token

    with session_scope() as s:
        pg = s.get_bind().dialect.name == "postgresql"
        version = "xmin::text::bigint" if pg else "NULL"
        row = s.execute(
            text(f"SELECT {version}, last_used_at FROM api_tokens WHERE token_hash = :h"),
            {"h": hash_token(token)},
        ).one()
    return (int(row[0]) if row[0] is not None else None), row[1]


def _set_last_used(when: datetime) -> None:
    with session_scope() as s:
        s.execute(text("UPDATE api_tokens SET last_used_at = :t"), {"t": when})


@pytest.fixture
def prefect_down() -> Any:
    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:9/api"}):
        yield


def _mixed(seeded: dict[str, Any], n: int) -> list[tuple[str, str, dict[str, Any]]]:
    """Half single-XML uploads, half reads, all with the one client token."""
    h = auth(str(seeded["client"]))
    cnpj = "11222333000181"
    out: list[tuple[str, str, dict[str, Any]]] = []
    for i in range(n):
        if i % 2 == 0:
            xml = make_nfe(cnpj, OTHER, "2026-03", numero=1000 + i, value=Decimal("10.00"))
            files = [("arquivos", (f"nota-{i}.xml", xml, "application/xml"))]
            out.append(
                ("POST", f"/api/empresas/{seeded['a']}/uploads", {"files": files, "headers": h})
            )
        else:
            url = ("/api/uploads", "/api/documentos", "/api/me")[i % 3]
            out.append(("GET", url, {"headers": h}))
    return out


def test_64_concurrent_requests_of_one_token_all_answered_without_writing_its_row(
    seeded: dict[str, Any], prefect_down: None, redis_client: Any
) -> None:
    """The ERP case: one token, 64 requests at once — uploads and reads mixed. Every answer is
    2xx, and the token's row is not written by any of them (its ``last_used_at`` is fresh), so
    no request can wait on another's row lock."""
    _set_last_used(datetime.now(UTC) - timedelta(seconds=20))  # fresh: within the minute
    version_before, used_before = _token_row(str(seeded["client"]))
    responses = asyncio.run(_burst(_mixed(seeded, 64)))
    codes = Counter(r.status_code for r in responses)
    assert all(200 <= c < 300 for c in codes), {c: n for c, n in codes.items()}
    assert codes[202] == 32
    version_after, used_after = _token_row(str(seeded["client"]))
    assert used_after == used_before  # its last use was not written again
    assert version_after == version_before  # PostgreSQL: not one UPDATE of the token's row


def test_a_stale_last_used_is_refreshed_once_without_blocking_the_burst(
    seeded: dict[str, Any], prefect_down: None, redis_client: Any
) -> None:
    redis_client.flushdb()  # no refresh window left open by an earlier test
    _set_last_used(datetime.now(UTC) - timedelta(hours=1))
    _, before = _token_row(str(seeded["client"]))
    started = datetime.now(UTC)
    responses = asyncio.run(_burst(_mixed(seeded, 64)))
    assert all(200 <= r.status_code < 300 for r in responses)
    _, after = _token_row(str(seeded["client"]))
    assert before is not None and after is not None and after >= started > before


def test_100_concurrent_health_requests_share_one_probe_per_component(
    redis_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At most one probe per component runs for a burst inside the cache period — counted by
    the probes themselves and, independently, by Redis' own PING counter."""
    from app.health import probe_counts, reset_health_cache
    from app.settings import get_settings

    monkeypatch.setenv("HEALTH_CACHE_SECONDS", "30")
    get_settings.cache_clear()
    reset_health_cache()
    try:
        redis_client.config_resetstat()
        responses = asyncio.run(_burst([("GET", "/api/health", {})] * 100))
        assert len({r.text for r in responses}) == 1  # every caller saw the same shared answer
        body = responses[0].json()
        assert body["database"] == "ok" and body["redis"] == "ok" and body["storage"] == "ok"
        assert probe_counts() == {"database": 1, "redis": 1, "queue": 1, "storage": 1}
        pings = redis_client.info("commandstats").get("cmdstat_ping", {}).get("calls", 0)
        assert pings == 1
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
        reset_health_cache()
