"""Who am I, and the empresas a token may see (a client token sees only its own)."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from app.api.deps import CurrentPrincipal, DbSession
from app.api.schemas import EmpresaOut, PrincipalOut
from app.api.scope import ensure_visible
from app.errors import MISSING_EMPRESA
from models import Empresa

router = APIRouter(tags=["empresas"])


@router.get("/api/me", response_model=PrincipalOut)
def whoami(principal: CurrentPrincipal) -> PrincipalOut:
    """The caller's scope."""
    return PrincipalOut(name=principal.name, scope=principal.scope, empresa_id=principal.empresa_id)


@router.get("/api/empresas", response_model=list[EmpresaOut])
def list_empresas(principal: CurrentPrincipal, session: DbSession) -> list[Empresa]:
    """Empresas visible to the caller."""
    q = select(Empresa).order_by(Empresa.razao_social)
    if not principal.is_office:
        q = q.where(Empresa.id == principal.empresa_id)
    return list(session.scalars(q))


@router.get("/api/empresas/{empresa_id}", response_model=EmpresaOut)
def get_empresa(empresa_id: int, principal: CurrentPrincipal, session: DbSession) -> Empresa:
    """One empresa (404 for a client token, as if missing, when it is another empresa)."""
    ensure_visible(principal, empresa_id, MISSING_EMPRESA)
    row = session.get(Empresa, empresa_id)
    if row is None:
        raise MISSING_EMPRESA.error()
    return row
