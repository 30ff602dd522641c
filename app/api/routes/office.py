"""Office settings an operator changes at run time (generation days, reminder cycle …)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from app.api.deps import CurrentPrincipal, DbSession
from app.errors import NotFound
from app.platform.office_settings import SETTINGS, office_settings, set_office_settings
from app.platform.tokens import require_office

router = APIRouter(tags=["escritório"])


class SettingOut(BaseModel):
    """A setting with its current value and meaning."""

    chave: str
    valor: dict[str, Any]
    descricao: str


@router.get("/api/escritorio/configuracoes", response_model=list[SettingOut])
def list_settings(principal: CurrentPrincipal, session: DbSession) -> list[SettingOut]:
    """Every setting the platform reads, with its current value (office only)."""
    require_office(principal)
    return [
        SettingOut(chave=k, valor=office_settings(session, k, d), descricao=desc)
        for k, (d, _, desc) in SETTINGS.items()
    ]


@router.put("/api/escritorio/configuracoes/{chave}", response_model=SettingOut)
def put_setting(
    chave: str, valor: dict[str, Any], principal: CurrentPrincipal, session: DbSession
) -> SettingOut:
    """Change a setting (validated, audited); takes effect on the next flow run."""
    require_office(principal)
    if chave not in SETTINGS:
        raise NotFound(f"Configuração desconhecida: {chave}.", code="configuracao_desconhecida")
    new = set_office_settings(session, key=chave, value=valor, actor=principal.actor)
    return SettingOut(chave=chave, valor=new, descricao=SETTINGS[chave][2])
