"""Registers operators keep: local holidays, custom obligations and per-empresa adjustments, API
tokens — each change audited, each error with its pt-BR code."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import Conflict, InvalidInput, NotFound
from app.fiscal.obligations import load_catalogue
from app.obligations import custom, holidays
from app.obligations.calendar import calendar_for
from app.obligations.catalogue import sync_catalogue
from app.platform import tokens
from models import AuditLog, Empresa

CAMPINAS = "3509502"


def _actions(db: Session) -> list[str]:
    return list(db.scalars(select(AuditLog.action).order_by(AuditLog.id)))


def test_a_municipal_holiday_enters_the_calendar_until_it_is_removed(db: Session) -> None:
    day = date(2026, 8, 14)  # a Friday
    assert calendar_for(db, scope="municipal", uf="SP", ibge=CAMPINAS).is_business_day(day)
    row = holidays.add_holiday(db, day=day, name=" Padroeira ", ibge_code=CAMPINAS, actor="ana")
    assert (row.name, row.uf, row.ibge_code) == ("Padroeira", None, CAMPINAS)
    again = holidays.add_holiday(db, day=day, name="Padroeira", ibge_code=CAMPINAS, actor="ana")
    assert again.id == row.id  # idempotent per day and place
    assert not calendar_for(db, scope="municipal", uf="SP", ibge=CAMPINAS).is_business_day(day)
    assert calendar_for(db, scope="national").is_business_day(day)  # federal dates ignore it
    assert [h.id for h in holidays.list_holidays(db, year=2026, ibge_code=CAMPINAS)] == [row.id]
    assert holidays.list_holidays(db, year=2027) == []

    gone = holidays.remove_holiday(db, holiday_id=row.id, actor="ana", reason="lei revogada")
    assert gone.day == day
    assert calendar_for(db, scope="municipal", uf="SP", ibge=CAMPINAS).is_business_day(day)
    assert _actions(db) == ["feriado.cadastrado", "feriado.removido"]
    audit = db.scalars(select(AuditLog).where(AuditLog.action == "feriado.removido")).one()
    assert audit.reason == "lei revogada" and audit.details["ibge"] == CAMPINAS


def test_holiday_errors_have_their_codes(db: Session) -> None:
    with pytest.raises(NotFound) as missing:
        holidays.remove_holiday(db, holiday_id=999_999, actor="ana")
    assert missing.value.code == "feriado_nao_encontrado"
    with pytest.raises(InvalidInput) as wrong_uf:
        holidays.add_holiday(
            db, day=date(2026, 1, 2), name="X", uf="RJ", ibge_code=CAMPINAS, actor="a"
        )
    assert wrong_uf.value.code == "uf_invalida"
    with pytest.raises(InvalidInput) as bad_ibge:
        holidays.add_holiday(db, day=date(2026, 1, 2), name="X", ibge_code="123", actor="a")
    assert bad_ibge.value.code == "ibge_invalido"
    with pytest.raises(InvalidInput) as unknown_uf:
        holidays.add_holiday(db, day=date(2026, 1, 2), name="X", uf="XX", actor="a")
    assert unknown_uf.value.code == "uf_invalida"
    with pytest.raises(InvalidInput) as no_name:
        holidays.add_holiday(db, day=date(2026, 1, 2), name="  ", uf="SP", actor="a")
    assert no_name.value.code == "nome_invalido"


def custom_rule() -> dict[str, object]:
    """A municipal fee every service provider of Lucro Presumido pays once a year."""
    return load_catalogue().get("DAS").model_dump(mode="json") | {
        "code": "TFE-CAMPINAS",
        "name": "Taxa de fiscalização de estabelecimentos",
        "periodicity": "annual",
        "competencia_month": 1,
        "due": {"kind": "fixed_date", "month": 3, "day": 31, "years_after": 0},
        "generates_guide": False,
        "guide_type": None,
        "calendar_scope": "municipal",
        "legal_source": "Lei municipal (exemplo do escritório)",
    }


def test_custom_obligation_created_switched_off_and_on_audited(db: Session) -> None:
    sync_catalogue(db)
    oid = custom.create_custom_obligation(db, rule=custom_rule(), actor="ana")
    listed = custom.list_obligations(db, custom_only=True)
    assert [(o.id, o.code, o.custom, o.active) for o in listed] == [
        (oid, "TFE-CAMPINAS", True, True)
    ]
    off = custom.set_custom_obligation_active(db, code="TFE-CAMPINAS", active=False, actor="ana")
    assert off.active is False
    custom.set_custom_obligation_active(db, code="TFE-CAMPINAS", active=False, actor="ana")
    custom.set_custom_obligation_active(db, code="TFE-CAMPINAS", active=True, actor="ana")
    assert _actions(db)[-3:] == [
        "obrigacao.personalizada_criada",
        "obrigacao.personalizada_desativada",
        "obrigacao.personalizada_ativada",
    ]
    with pytest.raises(Conflict) as catalogue:
        custom.set_custom_obligation_active(db, code="DAS", active=False, actor="ana")
    assert catalogue.value.code == "obrigacao_do_catalogo"
    with pytest.raises(NotFound) as unknown:
        custom.set_custom_obligation_active(db, code="NADA", active=False, actor="ana")
    assert unknown.value.code == "obrigacao_desconhecida"


def test_company_obligation_override_is_listed(db: Session) -> None:
    sync_catalogue(db)
    emp = Empresa(cnpj="11222333000181", razao_social="Padaria", regime="SIMPLES", uf="SP",
                  ibge_code="3550308")  # fmt: skip
    db.add(emp)
    db.flush()
    custom.set_company_obligation(
        db, empresa_id=emp.id, code="DAS", overrides={"alert_business_days": [3, 0]}, actor="ana"
    )
    [row] = custom.list_company_obligations(db, empresa_id=emp.id)
    assert (row.code, row.source, row.active, row.overrides) == (
        "DAS", "manual", True, {"alert_business_days": [3, 0]}
    )  # fmt: skip
    assert _actions(db) == ["empresa.obrigacao_ajustada"]


def test_tokens_are_listed_without_secrets_and_revoked_with_audit(db: Session) -> None:
    row, plaintext = tokens.create_token(db, name="integração", scope="office", actor="ana")
    listed = tokens.list_tokens(db)
    assert [(t.id, t.name, t.prefix) for t in listed] == [(row.id, "integração", plaintext[:12])]
    tokens.revoke_token(db, token_id=row.id, actor="ana", reason="vazou")
    tokens.revoke_token(db, token_id=row.id, actor="ana", reason="de novo")  # no second audit
    assert tokens.list_tokens(db) == []
    assert [t.revoked_at is not None for t in tokens.list_tokens(db, include_revoked=True)] == [
        True
    ]
    assert _actions(db) == ["token.criado", "token.revogado"]
    with pytest.raises(NotFound) as missing:
        tokens.revoke_token(db, token_id=999_999, actor="ana", reason="x")
    assert missing.value.code == "token_nao_encontrado"
