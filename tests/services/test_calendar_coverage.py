"""Empresas whose município has no holiday calendar are visible (API field, check, metric).

Municipal holidays are fixed by municipal law (Lei federal 9.093/1995): a município missing from
the shipped table and without operator-registered holidays would silently get none.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from app.api.schemas import EmpresaOut
from app.cli import main
from app.obligations.calendar_coverage import (
    calendar_warnings,
    empresas_without_calendar,
    empresas_without_calendar_count,
)
from app.obligations.holidays import add_holiday
from models import Empresa

CAMPINAS, SALVADOR = "3509502", "2927408"


def _empresa(db: Session, cnpj: str, ibge: str, uf: str, **kw: object) -> Empresa:
    e = Empresa(cnpj=cnpj, razao_social=f"Empresa {cnpj}", regime="SIMPLES", uf=uf,
                ibge_code=ibge, **kw)  # fmt: skip
    db.add(e)
    db.flush()
    return e


def test_empresa_without_calendar_is_reported_until_holidays_are_registered(db: Session) -> None:
    campinas = _empresa(db, "11222333000181", CAMPINAS, "SP")
    salvador = _empresa(db, "22333444000181", SALVADOR, "BA")
    _empresa(db, "33444555000181", CAMPINAS, "SP", active=False)
    before = empresas_without_calendar_count(db)
    assert campinas.id in {e.empresa_id for e in empresas_without_calendar(db)}
    assert salvador.id not in {e.empresa_id for e in empresas_without_calendar(db)}
    lines = calendar_warnings(db)
    assert lines and "sem calendário" in lines[0] and any(CAMPINAS in x for x in lines[1:])
    assert EmpresaOut.of(campinas).calendario_municipal is False
    assert EmpresaOut.of(salvador).calendario_municipal is True

    add_holiday(
        db, day=date(2027, 12, 8), name="Imaculada Conceição", ibge_code=CAMPINAS, actor="t"
    )
    assert campinas.id not in {e.empresa_id for e in empresas_without_calendar(db)}
    assert empresas_without_calendar_count(db) == before - 1


def test_contab_check_still_passes_and_reports(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["check"]) == 0
    assert "Configuração de" in capsys.readouterr().out
