"""API tokens (office only): list them and revoke one (audited). Creating a token stays a
command (``contab create-token``): its plaintext is shown once, on the operator's terminal."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from app.api.deps import DbSession, OfficePrincipal, Page, office_only
from app.api.schemas import Pagina, page
from app.platform.tokens import TokenView, list_tokens, revoke_token

router = APIRouter(tags=["tokens"], dependencies=[Depends(office_only)])


class TokenOut(BaseModel):
    """A token as operators see it: never its hash, only the prefix shown at creation."""

    id: int
    nome: str
    prefixo: str
    escopo: str
    empresa_id: int | None
    criado_em: datetime
    expira_em: datetime | None
    revogado_em: datetime | None
    usado_em: datetime | None

    @classmethod
    def of(cls, t: TokenView) -> TokenOut:
        """From the service's view."""
        return cls(
            id=t.id, nome=t.name, prefixo=t.prefix, escopo=t.scope, empresa_id=t.empresa_id,
            criado_em=t.created_at, expira_em=t.expires_at, revogado_em=t.revoked_at,
            usado_em=t.last_used_at,
        )  # fmt: skip


class RevogacaoIn(BaseModel):
    """Why the token is revoked (kept in the audit trail)."""

    model_config = ConfigDict(extra="forbid")

    motivo: str = Field(min_length=3, max_length=2000)


@router.get("/tokens", response_model=Pagina[TokenOut])
def list_route(
    session: DbSession,
    paging: Page,
    revogados: Annotated[bool, Query(description="Incluir os revogados")] = False,
    empresa_id: int | None = None,
) -> Pagina[TokenOut]:
    """Tokens by id (active ones unless ``revogados``), optionally of one empresa."""
    rows = list_tokens(session, include_revoked=revogados, empresa_id=empresa_id)
    chosen = rows[paging.deslocamento : paging.deslocamento + paging.limite]
    return page([TokenOut.of(t) for t in chosen], len(rows), paging)


@router.post("/tokens/{token_id}/revogar", response_model=TokenOut)
def revoke_route(
    token_id: int, body: RevogacaoIn, principal: OfficePrincipal, session: DbSession
) -> TokenOut:
    """Revoke a token at once (audited; revoking twice changes nothing)."""
    revoke_token(session, token_id=token_id, actor=principal.actor, reason=body.motivo)
    session.flush()
    return next(
        TokenOut.of(t) for t in list_tokens(session, include_revoked=True) if t.id == token_id
    )
