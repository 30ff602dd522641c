"""Obligation catalogue: legal due dates, internal targets and automatic assignment."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from app.errors import InvalidInput, NotFound
from app.fiscal.calendar import BusinessCalendar
from app.fiscal.competencia import Competencia
from app.fiscal.obligations import (
    Catalogue,
    applicable_obligations,
    competencias_due,
    due_date,
    internal_target_date,
    is_generated_for,
    load_catalogue,
)
from app.obligations.calendar import HolidayIndex, calendar_for

CAT = load_catalogue()
NATIONAL = BusinessCalendar()
SAO_PAULO_CITY = BusinessCalendar(ibge="3550308")

# (obligation, competência, expected legal due date) on the national bank calendar.
# The worked 2026 dates (weekends and national holidays) come first; the rest follow each entry's rule by hand.
PINNED = [
    ("DAS", "2026-05", date(2026, 6, 22)),  # 20/06 Saturday → postponed
    ("DAS", "2026-08", date(2026, 9, 21)),  # 20/09 Sunday → postponed
    ("DAS", "2026-10", date(2026, 11, 23)),  # 20/11 national holiday → postponed
    ("DAS-MEI", "2026-05", date(2026, 6, 22)),
    ("DAS-MEI", "2026-10", date(2026, 11, 23)),
    ("INSS-IRRF", "2026-05", date(2026, 6, 19)),  # anticipated
    ("INSS-IRRF", "2026-10", date(2026, 11, 19)),
    ("INSS-13", "2026-12", date(2026, 12, 18)),  # 20/12/2026 Sunday → anticipated
    ("INSS-13", "2025-12", date(2025, 12, 19)),  # 20/12/2025 Saturday → anticipated
    ("FGTS", "2026-05", date(2026, 6, 19)),
    ("FGTS", "2026-10", date(2026, 11, 19)),
    ("PIS-COFINS", "2026-03", date(2026, 4, 24)),  # 25/04 Saturday → anticipated
    ("PIS-COFINS", "2026-09", date(2026, 10, 23)),
    ("PIS-COFINS", "2026-11", date(2026, 12, 24)),  # 25/12 Christmas → 24/12
    ("IRPJ-CSLL-TRIM", "2026-03", date(2026, 4, 30)),
    ("IRPJ-CSLL-TRIM", "2026-06", date(2026, 7, 31)),
    ("IRPJ-CSLL-TRIM", "2026-09", date(2026, 10, 30)),
    ("IRPJ-CSLL-TRIM", "2026-12", date(2027, 1, 29)),
    ("IRPJ-CSLL-EST", "2026-01", date(2026, 2, 27)),
    ("IRPJ-CSLL-EST", "2026-11", date(2026, 12, 30)),  # 31/12 has no bank service
    ("DCTFWEB", "2026-01", date(2026, 2, 27)),
    ("DCTFWEB", "2026-11", date(2026, 12, 30)),  # 31/12 has no bank service
    ("ESOCIAL", "2026-01", date(2026, 2, 18)),  # 15/02 Sunday, 16–17 Carnaval → postponed
    ("ESOCIAL-MEI", "2026-01", date(2026, 2, 6)),  # 07/02 Saturday → anticipated
    ("EFD-REINF", "2026-01", date(2026, 2, 18)),  # postponed like eSocial
    ("DEFIS", "2025-12", date(2026, 3, 31)),
    ("DEFIS", "2023-12", date(2024, 3, 31)),  # a Sunday: the rule keeps the legal date
    ("DASN-SIMEI", "2025-12", date(2026, 5, 31)),  # a Sunday: kept
    ("ECD", "2025-12", date(2026, 6, 30)),
    ("ECF", "2025-12", date(2026, 7, 31)),
    ("ISS", "2026-09", date(2026, 10, 13)),  # template: 10/10 Saturday, 12/10 holiday
    # EFD-Contribuições: 10th business day of M+2 (IN RFB 1.252/2012 art. 7º).
    ("EFD-CONTRIBUICOES", "2027-01", date(2027, 3, 12)),
    ("EFD-CONTRIBUICOES", "2027-02", date(2027, 4, 14)),  # April 2027: 1st is a Thursday
    ("EFD-CONTRIBUICOES", "2027-03", date(2027, 5, 14)),
    # IRPJ/CSLL annual adjustment of Lucro Real anual: last business day of March of the next
    # year (Lei 9.430/1996 art. 6º § 1º, I; art. 28).
    ("IRPJ-CSLL-AJUSTE", "2026-12", date(2027, 3, 31)),
    ("IRPJ-CSLL-AJUSTE", "2028-12", date(2029, 3, 29)),  # 30/03/2029 Good Friday, 31 Saturday
    # DCTFWeb of the 13th salary: 20/12 of the year, anticipated (IN RFB 2.248/2025).
    ("DCTFWEB-13", "2027-12", date(2027, 12, 20)),
    ("DCTFWEB-13", "2026-12", date(2026, 12, 18)),  # 20/12/2026 Sunday → anticipated
]


@pytest.mark.parametrize(("code", "comp", "expected"), PINNED)
def test_pinned_due_dates(code: str, comp: str, expected: date) -> None:
    assert due_date(CAT.get(code), Competencia.parse(comp), NATIONAL) == expected


def test_every_catalogue_entry_has_a_pinned_date() -> None:
    assert {o.code for o in CAT.obligations} == {code for code, _, _ in PINNED}


def test_catalogue_entries_are_complete() -> None:
    assert CAT.version
    for ob in CAT.obligations:
        assert ob.legal_source and ob.name
        assert ob.generates_guide == (ob.guide_type is not None)
        assert ob.alert_business_days[-1] == 0
    iss = CAT.get("ISS")
    assert iss.template and iss.calendar_scope == "municipal"
    assert CAT.get("DAS").guide_type == "DAS" and CAT.get("FGTS").guide_type == "GFD"
    with pytest.raises(NotFound):
        CAT.get("DIRF")  # extinct from 2025


def test_catalogue_validation_rejects_bad_data() -> None:
    raw = CAT.model_dump()
    dup = {**raw, "obligation": [raw["obligation"][0], raw["obligation"][0]]}
    with pytest.raises(ValidationError, match="duplicate"):
        Catalogue.model_validate(dup)
    bad_rule = {**raw["obligation"][0], "applies_to": [{"regimes": ["SIMPLES"], "all_of": ["x"]}]}
    with pytest.raises(ValidationError, match="unknown characteristics"):
        Catalogue.model_validate({**raw, "obligation": [bad_rule]})
    no_guide_type = {**raw["obligation"][0], "guide_type": None}
    with pytest.raises(ValidationError, match="guide_type"):
        Catalogue.model_validate({**raw, "obligation": [no_guide_type]})


def test_municipal_holidays_move_iss_in_sao_paulo_city() -> None:
    iss = CAT.get("ISS")
    on_25 = iss.with_overrides(due_day=25)
    # 25/01/2027 (Monday) is São Paulo's anniversary: business day nationally, not in the city.
    assert due_date(on_25, Competencia(2026, 12), NATIONAL) == date(2027, 1, 25)
    assert due_date(on_25, Competencia(2026, 12), SAO_PAULO_CITY) == date(2027, 1, 26)
    # 09/07/2026 (Thursday) is a São Paulo state holiday.
    on_9 = iss.with_overrides(due_day=9)
    assert due_date(on_9, Competencia(2026, 6), NATIONAL) == date(2026, 7, 9)
    assert due_date(on_9, Competencia(2026, 6), BusinessCalendar(uf="SP")) == date(2026, 7, 10)


def test_the_obligations_calendar_scope_picks_the_calendar() -> None:
    # the one calendar (app.obligations.calendar), with no registered holiday: 25/01 is São
    # Paulo city's anniversary, a holiday for its ISS only
    no_registered = HolidayIndex()
    iss = CAT.get("ISS")
    iss_cal = calendar_for(no_registered, scope=iss.calendar_scope, ibge="3550308")
    assert not iss_cal.is_business_day(date(2027, 1, 25))
    das_cal = calendar_for(no_registered, scope=CAT.get("DAS").calendar_scope, ibge="3550308")
    assert das_cal.is_business_day(date(2027, 1, 25))


def test_internal_target_date_counts_business_days_back() -> None:
    das = CAT.get("DAS")
    due = due_date(das, Competencia(2026, 5), NATIONAL)
    assert internal_target_date(das, due, NATIONAL) == date(2026, 6, 17)  # 3 business days
    esocial = CAT.get("ESOCIAL")
    due = due_date(esocial, Competencia(2026, 1), NATIONAL)
    assert internal_target_date(esocial, due, NATIONAL) == date(2026, 2, 12)  # skips Carnaval
    faster = das.with_overrides(lead_time_business_days=0)
    assert internal_target_date(faster, date(2026, 6, 22), NATIONAL) == date(2026, 6, 22)


def test_overrides_are_validated_and_leave_the_catalogue_alone() -> None:
    das = CAT.get("DAS")
    custom = das.with_overrides(due_day=15, alert_business_days=(3, 0))
    assert custom.due.kind == "fixed_day" and custom.due.day == 15
    assert custom.alert_business_days == (3, 0)
    assert CAT.get("DAS").due.day == 20  # type: ignore[union-attr]
    with pytest.raises(InvalidInput, match="Sobrescrita inválida"):
        das.with_overrides(due_day=40)
    with pytest.raises(InvalidInput, match="não vence em dia fixo"):
        CAT.get("DCTFWEB").with_overrides(due_day=10)
    with pytest.raises(InvalidInput, match="Campos desconhecidos"):
        das.with_overrides(prazo=3)
    with pytest.raises(InvalidInput):
        das.with_overrides(alert_business_days=(0, 5))


def test_quarterly_and_annual_generation() -> None:
    year = (Competencia(2026, 1), Competencia(2026, 12))
    trim = CAT.get("IRPJ-CSLL-TRIM")
    assert [c.month for c in competencias_due(trim, *year)] == [3, 6, 9, 12]
    assert competencias_due(CAT.get("DEFIS"), *year) == [Competencia(2026, 12)]
    assert len(competencias_due(CAT.get("DAS"), *year)) == 12
    assert competencias_due(trim, Competencia(2026, 5)) == []
    assert is_generated_for(trim, Competencia(2026, 6))
    with pytest.raises(InvalidInput, match="não é gerada"):
        due_date(trim, Competencia(2026, 5), NATIONAL)
    with pytest.raises(InvalidInput, match="não é gerada"):
        due_date(CAT.get("DEFIS"), Competencia(2026, 3), NATIONAL)


def _codes(regime: str, *traits: str) -> set[str]:
    return {o.code for o in applicable_obligations(regime, traits)}


def test_automatic_assignment_by_regime_and_characteristics() -> None:
    assert _codes("MEI") == {"DAS-MEI", "DASN-SIMEI"}
    assert _codes("MEI", "has_employees") == {"DAS-MEI", "DASN-SIMEI", "FGTS", "ESOCIAL-MEI"}
    assert _codes("SIMPLES") == {"DAS", "DEFIS"}
    assert _codes("SIMPLES", "has_employees") == {
        "DAS", "DEFIS", "INSS-IRRF", "INSS-13", "FGTS", "DCTFWEB", "DCTFWEB-13", "ESOCIAL",
    }  # fmt: skip
    assert _codes("SIMPLES", "has_withholdings") == {
        "DAS", "DEFIS", "INSS-IRRF", "DCTFWEB", "EFD-REINF",
    }  # fmt: skip
    assert _codes("PRESUMIDO", "is_service_provider") == {
        "PIS-COFINS", "IRPJ-CSLL-TRIM", "DCTFWEB", "ECF", "ISS", "EFD-CONTRIBUICOES",
    }  # fmt: skip
    assert "ECD" in _codes("PRESUMIDO", "keeps_ecd")
    real_quarterly = _codes("REAL")
    assert {"IRPJ-CSLL-TRIM", "ECD", "ECF"} <= real_quarterly
    assert "IRPJ-CSLL-EST" not in real_quarterly
    real_annual = _codes("REAL", "lucro_real_anual")
    assert "IRPJ-CSLL-EST" in real_annual and "IRPJ-CSLL-TRIM" not in real_annual
    assert "IRPJ-CSLL-AJUSTE" in real_annual and "IRPJ-CSLL-AJUSTE" not in real_quarterly
    assert "EFD-CONTRIBUICOES" in real_quarterly and "EFD-CONTRIBUICOES" not in _codes("SIMPLES")


def test_efd_reinf_postponement_cites_its_instruction() -> None:
    # IN RFB 2.163/2023 moved EFD-Reinf to "postponed to the next business day".
    reinf = CAT.get("EFD-REINF")
    assert reinf.non_business_day == "postpone" and "2.163/2023" in reinf.legal_source
    assert due_date(reinf, Competencia(2027, 4), NATIONAL) == date(2027, 5, 17)  # 15/05 Saturday


def test_assignment_accepts_a_mapping_and_rejects_unknowns() -> None:
    by_map = applicable_obligations("simples", {"has_employees": True, "has_withholdings": False})
    assert {o.code for o in by_map} == _codes("SIMPLES", "has_employees")
    with pytest.raises(InvalidInput, match="Regime tributário desconhecido"):
        applicable_obligations("LUCRO_ARBITRADO")
    with pytest.raises(InvalidInput, match="Características desconhecidas"):
        applicable_obligations("SIMPLES", ["tem_funcionarios"])
