"""FastAPI dependencies: a DB session per request, the authenticated principal, office-only
access and the paging of every listing.

``authenticated`` is applied once, on the aggregating router (``app.api.router``), so a new route
is protected by default; a handler declares ``CurrentPrincipal`` only when it uses the caller
(FastAPI resolves the dependency once per request and hands the same principal to both).

A token's principal is kept in this process for ``TOKEN_CACHE_SECONDS`` (5 s): an integration
sending one NF-e per request paid a database round-trip (and a thread hop) per request to learn
the same answer. Revocation (and expiry) therefore takes effect within 5 s in every API process,
and at once in the process that committed it (a committed change to an ``api_tokens`` row through
the ORM clears this process's cache).
"""

# No ``from __future__ import annotations`` here: ``paging`` builds its query parameters from
# its own arguments, which FastAPI must see as evaluated annotations.
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, Query
from sqlalchemy import event
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.db import session_scope
from app.platform.tokens import Principal, authenticate, hash_token, require_office

__all__ = [
    "CurrentPrincipal",
    "DbSession",
    "OfficePrincipal",
    "Paging",
    "authenticated",
    "forget_tokens",
    "office_only",
    "paging",
]

# Beyond this an offset only scans rows to throw them away (and soon overflows bigint).
MAX_OFFSET = 1_000_000


def get_db() -> Iterator[Session]:
    """One transaction per request (committed when the route returns without error)."""
    with session_scope() as session:
        yield session


DbSession = Annotated[Session, Depends(get_db)]


# How long a token's principal is reused without asking the database (revocation delay bound).
TOKEN_CACHE_SECONDS = 5.0
_TOKEN_CACHE_MAX = 10_000
_principals: dict[str, tuple[float, Principal]] = {}


def forget_tokens() -> None:
    """Drop every cached principal of this process (a token was revoked or changed)."""
    _principals.clear()


@event.listens_for(Session, "after_flush")
def _note_token_change(session: Session, _: Any) -> None:
    # pre-flush state is still visible here: was any api_tokens row changed or deleted?
    if any(
        getattr(o, "__tablename__", None) == "api_tokens"
        for o in (*session.dirty, *session.deleted)
    ):
        session.info["contab_tokens_changed"] = True


@event.listens_for(Session, "after_commit")
def _forget_on_commit(session: Session) -> None:
    if session.info.pop("contab_tokens_changed", False):
        forget_tokens()


def _authenticate(token: str | None) -> Principal:
    # The token is read in a short transaction of its own, whose connection goes back to the
    # pool before the handler runs: a request never holds two connections at once.
    with session_scope() as session:
        return authenticate(session, token)


async def authenticated(authorization: Annotated[str | None, Header()] = None) -> Principal:
    """The caller of a bearer token; 401 (token_invalido) otherwise.

    Served from this process's cache for ``TOKEN_CACHE_SECONDS`` (no thread hop, no query);
    otherwise read in a worker thread, in a short transaction of its own (the request's session
    checks its connection out lazily, so concurrent requests cannot starve the pool, and an
    upload does not hold a connection while its files are stored). Refusals are never cached."""
    token = None
    if authorization and authorization.lower().startswith("bearer "):
        token = authorization[7:].strip()
    if not token:
        return await run_in_threadpool(_authenticate, token)
    key = hash_token(token)
    now = time.monotonic()
    hit = _principals.get(key)
    if hit is not None and now - hit[0] < TOKEN_CACHE_SECONDS:
        return hit[1]
    principal = await run_in_threadpool(_authenticate, token)
    if len(_principals) >= _TOKEN_CACHE_MAX:
        _principals.clear()
    _principals[key] = (now, principal)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(authenticated)]


def office_only(principal: CurrentPrincipal) -> Principal:
    """The caller, when it is office staff; 403 ``somente_escritorio`` for a client token."""
    require_office(principal)
    return principal


OfficePrincipal = Annotated[Principal, Depends(office_only)]


@dataclass(frozen=True, slots=True)
class Paging:
    """One page of a listing: at most ``limite`` rows after skipping ``deslocamento``."""

    limite: int
    deslocamento: int


def paging(*, default: int = 100, maximum: int = 500) -> Callable[..., Paging]:
    """A dependency reading ``?limite=&deslocamento=`` (bounded; 422 outside the bounds)."""

    def dependency(
        limite: Annotated[
            int, Query(ge=1, le=maximum, description=f"Itens por página (1–{maximum}).")
        ] = default,
        deslocamento: Annotated[
            int, Query(ge=0, le=MAX_OFFSET, description="Quantos itens pular.")
        ] = 0,
    ) -> Paging:
        return Paging(limite=limite, deslocamento=deslocamento)

    return dependency


Page = Annotated[Paging, Depends(paging())]
"""The default page of a listing: ``limite`` 1–500 (100), ``deslocamento`` ≥ 0."""
