"""FastAPI dependencies: a DB session per request and the authenticated principal."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header
from sqlalchemy.orm import Session

from app.db import session_scope
from app.platform.tokens import Principal, authenticate

__all__ = ["DbSession", "CurrentPrincipal"]


def get_db() -> Iterator[Session]:
    """One transaction per request (committed when the route returns without error)."""
    with session_scope() as session:
        yield session


DbSession = Annotated[Session, Depends(get_db)]


def get_principal(
    session: DbSession, authorization: Annotated[str | None, Header()] = None
) -> Principal:
    """The caller of a bearer token; 401 (token_invalido) otherwise."""
    token = None
    if authorization and authorization.lower().startswith("bearer "):
        token = authorization[7:].strip()
    return authenticate(session, token)


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
