"""Office settings an operator changes at run time (generation days, reminder cycle …)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from app.api.deps import DbSession, OfficePrincipal, Page, office_only
from app.api.schemas import Pagina, page
from app.errors import NotFound
from app.platform.office_settings import SETTINGS, office_settings, set_office_settings

router = APIRouter(tags=["escritório"], dependencies=[Depends(office_only)])


class SettingOut(BaseModel):
    """A setting with its current value and meaning."""

    chave: str
    valor: dict[str, Any]
    descricao: str


@router.get("/escritorio/configuracoes", response_model=Pagina[SettingOut])
def list_settings(session: DbSession, paging: Page) -> Pagina[SettingOut]:
    """Every setting the platform reads, with its current value."""
    keys = list(SETTINGS)
    chosen = keys[paging.deslocamento : paging.deslocamento + paging.limite]
    return page(
        [
            SettingOut(chave=k, valor=office_settings(session, k, SETTINGS[k][0]),
                       descricao=SETTINGS[k][2])
            for k in chosen
        ],
        len(keys),
        paging,
    )  # fmt: skip


@router.put("/escritorio/configuracoes/{chave}", response_model=SettingOut)
def put_setting(
    chave: str, valor: dict[str, Any], principal: OfficePrincipal, session: DbSession
) -> SettingOut:
    """Change a setting (validated, audited); takes effect on the next flow run."""
    if chave not in SETTINGS:
        raise NotFound(f"Configuração desconhecida: {chave}.", code="configuracao_desconhecida")
    new = set_office_settings(session, key=chave, value=valor, actor=principal.actor)
    return SettingOut(chave=chave, valor=new, descricao=SETTINGS[chave][2])
