"""The token cache of the API process (app/api/deps.py): a token is read once per
TOKEN_CACHE_SECONDS, a revocation committed in this process applies at once, and one committed
elsewhere applies when the cached answer expires (within 5 s)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, select, update

from app.api import deps
from app.db import get_engine, session_scope
from app.platform.tokens import hash_token, revoke_token
from models import ApiToken
from tests.api.conftest import auth


@pytest.fixture
def token_reads() -> Any:
    """How many statements read api_tokens (every engine of the process shares the listener)."""
    seen = {"n": 0}

    def count(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        if "FROM api_tokens" in statement:
            seen["n"] += 1

    engine = get_engine()
    event.listen(engine, "before_cursor_execute", count)
    deps.forget_tokens()
    yield seen
    event.remove(engine, "before_cursor_execute", count)


def _id(token: str) -> int:
    with session_scope() as s:
        return int(
            s.scalars(select(ApiToken.id).where(ApiToken.token_hash == hash_token(token))).one()
        )


def test_a_token_is_read_once_per_cache_period(
    api_client: Any, seeded: dict[str, Any], token_reads: dict[str, int]
) -> None:
    for _ in range(5):
        assert api_client.get("/api/me", headers=auth(seeded["client"])).status_code == 200
    assert token_reads["n"] == 1
    # a refused token is never cached: each try is read again
    for _ in range(2):
        assert api_client.get("/api/me", headers=auth("ctb_naoexiste")).status_code == 401
    assert token_reads["n"] == 3


def test_revocation_committed_here_applies_at_once(
    api_client: Any, seeded: dict[str, Any], token_reads: dict[str, int]
) -> None:
    assert api_client.get("/api/me", headers=auth(seeded["client"])).status_code == 200
    with session_scope() as s:
        revoke_token(s, token_id=_id(seeded["client"]), actor="teste", reason="vazou")
    assert api_client.get("/api/me", headers=auth(seeded["client"])).status_code == 401


def test_revocation_committed_elsewhere_applies_when_the_cached_answer_expires(
    api_client: Any, seeded: dict[str, Any], token_reads: dict[str, int]
) -> None:
    token = seeded["client"]
    assert api_client.get("/api/me", headers=auth(token)).status_code == 200
    # another API process revokes it: no ORM change in this process, so no cache clearing here
    with get_engine().begin() as conn:
        conn.execute(
            update(ApiToken).where(ApiToken.id == _id(token)).values(revoked_at=datetime.now(UTC))
        )
    assert api_client.get("/api/me", headers=auth(token)).status_code == 200  # still cached
    key = hash_token(token)
    at, principal = deps._principals[key]
    deps._principals[key] = (at - deps.TOKEN_CACHE_SECONDS, principal)  # the 5 s have passed
    assert api_client.get("/api/me", headers=auth(token)).status_code == 401
