"""Monthly DAS from plain monthly figures: RBT12 window, start-up rule, payroll months, review."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.errors import DomainError
from app.fiscal.competencia import Competencia
from app.fiscal.das import REVIEW_NO_REVENUE, REVIEW_SUBLIMITE, monthly_das
from app.fiscal.simples import calculate_das

COMP = Competencia(2026, 5)

money = st.decimals(min_value=0, max_value=30000, places=2, allow_nan=False, allow_infinity=False)


def months_back(values: list[D], anexo: str = "I") -> dict[str, dict[str, D]]:
    """{competência: {anexo: value}} with values[k] the revenue k months before COMP."""
    return {str(COMP.shift(-k)): {anexo: v} for k, v in enumerate(values)}


def test_domain_example_anexo_i() -> None:
    # RBT12 250,000.00 in Anexo I: (250,000 × 7.3% − 5,940) / 250,000 = 4.924%.
    revenue = months_back(
        [D("20000.00")] + [D("20833.33")] * 11 + [D("250000.00") - D("20833.33") * 11]
    )
    das = monthly_das(competencia=COMP, revenue=revenue, payroll={}, anexos=["I"], opened_on=None)
    assert das.calculation.rbt12 == D("250000.00")
    assert das.amount == D("984.80")
    assert das.review == ()
    assert das.memo()["valor_total"] == "984.80"


@settings(max_examples=40, deadline=None)
@given(values=st.lists(money, min_size=15, max_size=15))
def test_rbt12_is_the_twelve_months_before_the_competencia(values: list[D]) -> None:
    das = monthly_das(
        competencia=COMP, revenue=months_back(values), payroll={}, anexos=["I"], opened_on=None
    )
    assert das.calculation.rbt12_informed == sum(values[1:13], D(0))
    assert das.window == tuple(COMP.shift(-k) for k in range(12, 0, -1))
    assert das.months_active is None
    assert das.calculation.total_revenue == values[0]
    memo = das.memo()
    assert memo["periodo_rbt12"] == ["2025-05", "2026-04"]
    assert sum((D(line["valor"]) for line in memo["linhas"]), D(0)) == D(memo["valor_total"])


@settings(max_examples=40, deadline=None)
@given(elapsed=st.integers(0, 11), values=st.lists(money, min_size=14, max_size=14))
def test_start_up_counts_only_the_months_of_activity(elapsed: int, values: list[D]) -> None:
    opened = COMP.shift(-elapsed)
    das = monthly_das(
        competencia=COMP,
        revenue=months_back(values),
        payroll={},
        anexos=["I"],
        opened_on=date(opened.year, opened.month, 15),
    )
    assert das.months_active == elapsed
    assert len(das.window) == elapsed
    assert das.calculation.rbt12_informed == sum(values[1 : elapsed + 1], D(0))
    assert das.calculation.rbt12_proportional is True
    expected = calculate_das(
        {"I": values[0]} if values[0] else {"I": D("0.00")},
        das.calculation.rbt12_informed,
        months_active=elapsed,
    )
    assert das.amount == expected.total


@pytest.mark.parametrize("years_ago", [1, 3])
def test_twelve_months_or_more_of_activity_is_the_ordinary_rule(years_ago: int) -> None:
    revenue = months_back([D("10000.00")] * 13)
    opened = date(COMP.year - years_ago, COMP.month, 1)
    started = monthly_das(
        competencia=COMP, revenue=revenue, payroll={}, anexos=["I"], opened_on=opened
    )
    unknown = monthly_das(
        competencia=COMP, revenue=revenue, payroll={}, anexos=["I"], opened_on=None
    )
    assert started.months_active is None
    assert started.amount == unknown.amount and started.window == unknown.window


def test_competencia_before_opening_is_refused() -> None:
    with pytest.raises(DomainError) as exc:
        monthly_das(
            competencia=COMP, revenue={}, payroll={}, anexos=["I"], opened_on=date(2026, 6, 1)
        )
    assert exc.value.code == "antes_abertura"


def test_empresa_without_anexo_is_refused() -> None:
    with pytest.raises(DomainError) as exc:
        monthly_das(competencia=COMP, revenue={}, payroll={}, anexos=[], opened_on=None)
    assert exc.value.code == "sem_anexo"


def test_month_without_revenue_is_zero_on_the_first_anexo_and_flagged() -> None:
    revenue = months_back([D(0)] + [D("5000.00")] * 12, anexo="III")
    das = monthly_das(
        competencia=COMP, revenue=revenue, payroll={}, anexos=["iii", "V"], opened_on=None
    )
    assert das.amount == 0
    assert das.review == (REVIEW_NO_REVENUE,)
    assert [(line.anexo, line.revenue) for line in das.calculation.lines] == [("III", D("0.00"))]


def test_rbt12_above_the_sublimite_is_flagged_for_review() -> None:
    revenue = months_back([D("400000.00")] * 13)  # RBT12 4.8 M
    das = monthly_das(competencia=COMP, revenue=revenue, payroll={}, anexos=["I"], opened_on=None)
    assert REVIEW_SUBLIMITE in das.review and das.amount > 0


def test_payroll_moves_anexo_v_to_iii_only_when_declared() -> None:
    revenue = months_back([D("10000.00")] * 13, anexo="V")
    high = {str(COMP.shift(-k)): D("3000.00") for k in range(1, 13)}  # r = 30 %
    with_payroll = monthly_das(
        competencia=COMP, revenue=revenue, payroll=high, anexos=["V"], opened_on=None
    )
    without = monthly_das(
        competencia=COMP, revenue=revenue, payroll={}, anexos=["V"], opened_on=None
    )
    assert with_payroll.payroll == D("36000.00")
    assert with_payroll.calculation.lines[0].taxed_as == "III"
    assert without.payroll is None and without.calculation.fator_r is None
    assert without.calculation.lines[0].taxed_as == "V"
    assert with_payroll.amount < without.amount


def test_payroll_outside_the_window_or_for_other_anexos_is_ignored() -> None:
    outside = {str(COMP): D("9000.00"), str(COMP.shift(-13)): D("9000.00")}
    v = monthly_das(
        competencia=COMP,
        revenue=months_back([D("10000.00")] * 13, anexo="V"),
        payroll=outside,
        anexos=["V"],
        opened_on=None,
    )
    assert v.payroll is None
    i = monthly_das(
        competencia=COMP,
        revenue=months_back([D("10000.00")] * 13),
        payroll={str(COMP.shift(-1)): D("9000.00")},
        anexos=["I"],
        opened_on=None,
    )
    assert i.payroll is None


def test_first_month_of_activity_uses_the_month_own_payroll() -> None:
    das = monthly_das(
        competencia=COMP,
        revenue={str(COMP): {"V": D("10000.00")}},
        payroll={str(COMP): D("2800.00"), str(COMP.shift(-1)): D("99999.00")},
        anexos=["V"],
        opened_on=date(2026, 5, 4),
    )
    assert das.months_active == 0 and das.window == ()
    assert das.payroll == D("2800.00")
    assert das.calculation.rbt12 == D("120000.00")  # the month × 12
    assert das.calculation.lines[0].taxed_as == "III"
    assert das.memo()["periodo_rbt12"] == []
