"""Registered holidays (office only, audited): municipal and state holidays, bank closures.

The shipped tables already know national and state holidays and the municipal ones of the main
cities; what is registered here enters every business-day calendar (due dates, internal
deadlines, alerts) from the next generation or status refresh on.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from app.api.deps import DbSession, OfficePrincipal, Page, office_only
from app.api.schemas import IsoDate, Pagina, page
from app.obligations.holidays import HolidayView, add_holiday, list_holidays, remove_holiday

router = APIRouter(tags=["feriados"], dependencies=[Depends(office_only)])


class FeriadoIn(BaseModel):
    """A holiday: national bank closure (no place), of a UF, or of a município (IBGE code)."""

    model_config = ConfigDict(extra="forbid")

    dia: IsoDate
    nome: str = Field(min_length=1, max_length=120)
    uf: str | None = Field(default=None, min_length=2, max_length=2)
    codigo_ibge: str | None = Field(default=None, pattern=r"^\d{7}$")


class FeriadoOut(BaseModel):
    """A registered holiday."""

    id: int
    dia: date
    nome: str
    uf: str | None
    codigo_ibge: str | None

    @classmethod
    def of(cls, h: HolidayView) -> FeriadoOut:
        """From the service's view (or the ORM row: same attribute names)."""
        return cls(id=h.id, dia=h.day, nome=h.name, uf=h.uf, codigo_ibge=h.ibge_code)


@router.get("/feriados", response_model=Pagina[FeriadoOut])
def list_route(
    session: DbSession,
    paging: Page,
    ano: Annotated[int | None, Query(ge=1900, le=2100)] = None,
    uf: Annotated[str | None, Query(min_length=2, max_length=2)] = None,
    codigo_ibge: Annotated[str | None, Query(pattern=r"^\d{7}$")] = None,
) -> Pagina[FeriadoOut]:
    """Registered holidays by date, optionally of one year and one place."""
    rows = list_holidays(session, year=ano, uf=uf, ibge_code=codigo_ibge)
    chosen = rows[paging.deslocamento : paging.deslocamento + paging.limite]
    return page([FeriadoOut.of(h) for h in chosen], len(rows), paging)


@router.post("/feriados", response_model=FeriadoOut, status_code=201)
def add_route(body: FeriadoIn, principal: OfficePrincipal, session: DbSession) -> FeriadoOut:
    """Register a holiday (the same day and place twice is one holiday; audited)."""
    row = add_holiday(
        session, day=body.dia, name=body.nome, uf=body.uf, ibge_code=body.codigo_ibge,
        actor=principal.actor,
    )  # fmt: skip
    return FeriadoOut(id=row.id, dia=row.day, nome=row.name, uf=row.uf, codigo_ibge=row.ibge_code)


@router.delete("/feriados/{feriado_id}", response_model=FeriadoOut)
def remove_route(
    feriado_id: int,
    principal: OfficePrincipal,
    session: DbSession,
    motivo: Annotated[str | None, Query(max_length=2000)] = None,
) -> FeriadoOut:
    """Remove a registered holiday (audited with what it was); tarefas already generated keep
    their dates."""
    gone = remove_holiday(session, holiday_id=feriado_id, actor=principal.actor, reason=motivo)
    return FeriadoOut.of(gone)
