"""FastAPI dependencies: a DB session per request, the authenticated principal, office-only
access and the paging of every listing.

``authenticated`` is applied once, on the aggregating router (``app.api.router``), so a new route
is protected by default; a handler declares ``CurrentPrincipal`` only when it uses the caller
(FastAPI resolves the dependency once per request and hands the same principal to both).
"""

# No ``from __future__ import annotations`` here: ``paging`` builds its query parameters from
# its own arguments, which FastAPI must see as evaluated annotations.
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Query
from sqlalchemy.orm import Session

from app.db import session_scope
from app.platform.tokens import Principal, authenticate, require_office

__all__ = [
    "CurrentPrincipal",
    "DbSession",
    "OfficePrincipal",
    "Paging",
    "authenticated",
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


def authenticated(authorization: Annotated[str | None, Header()] = None) -> Principal:
    """The caller of a bearer token; 401 (token_invalido) otherwise.

    The token is read in a short transaction of its own, whose connection goes back to the pool
    before the handler runs: a request never holds two connections at once (the request's
    session checks one out lazily, at its first query), so concurrent requests cannot starve the
    pool, and an upload does not hold a connection while its files are stored."""
    token = None
    if authorization and authorization.lower().startswith("bearer "):
        token = authorization[7:].strip()
    with session_scope() as session:
        return authenticate(session, token)


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
