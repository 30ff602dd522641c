"""Simples Nacional: effective rates, bands, Fator R, start-up RBT12, limits, DAS memo."""

from __future__ import annotations

import dataclasses
from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.errors import InvalidInput
from app.fiscal.simples import (
    calculate_das,
    effective_rate,
    faixa_for,
    load_simples_table,
    proportional_rbt12,
)

ANEXOS = ("I", "II", "III", "IV", "V")
TABLE = load_simples_table()
SUBLIMITE = D("3600000.00")
CENT = D("0.01")


@pytest.mark.parametrize(
    ("anexo", "rbt12", "rate"),
    [
        ("I", D("250000"), D("0.04924")),
        ("I", D("1000000"), D("0.0845")),
        ("III", D("500000"), D("0.09972")),
        ("V", D("2500000"), D("0.20516")),
        ("I", D("100000"), D("0.04")),  # band 1: effective == nominal
        ("III", D("0"), D("0.06")),  # no revenue in 12 months: band 1
    ],
)
def test_domain_effective_rate_examples(anexo: str, rbt12: D, rate: D) -> None:
    assert effective_rate(anexo, rbt12) == rate


def test_band_bounds_are_inclusive() -> None:
    assert faixa_for("I", D("180000.00"))[0] == 1
    assert faixa_for("I", D("180000.01"))[0] == 2
    assert faixa_for("V", D("3600000.00"))[0] == 5
    assert faixa_for("V", D("3600000.01"))[0] == 6
    assert faixa_for("II", D("4800000.00"))[0] == 6


def _annual_tax(anexo: str, rbt12: D) -> D:
    return rbt12 * effective_rate(anexo, rbt12)


@pytest.mark.parametrize("anexo", ANEXOS)
def test_tax_is_continuous_at_each_boundary_of_bands_1_to_5(anexo: str) -> None:
    bands = TABLE.faixas(anexo)
    for lower, upper in zip(bands[:4], bands[1:5], strict=True):
        bound = lower.upper_bound
        assert bound * lower.nominal_rate - lower.deduction == (
            bound * upper.nominal_rate - upper.deduction
        )


@given(
    st.sampled_from(ANEXOS),
    st.integers(1, 4),
    st.decimals(min_value=D("0.01"), max_value=D("1000.00"), places=2),
)
def test_tax_has_no_jump_across_boundaries(anexo: str, band: int, delta: D) -> None:
    bound = TABLE.faixas(anexo)[band - 1].upper_bound
    below, above = _annual_tax(anexo, bound - delta), _annual_tax(anexo, bound + delta)
    assert D(0) <= above - below <= 2 * delta * D("0.23")  # highest nominal rate in bands 1–5


@given(
    st.sampled_from(ANEXOS),
    st.decimals(min_value=D("0.01"), max_value=SUBLIMITE - 1, places=2),
    st.decimals(min_value=D("0.01"), max_value=D("100000"), places=2),
)
def test_tax_and_rate_never_decrease_up_to_sublimite(anexo: str, rbt12: D, step: D) -> None:
    higher = min(rbt12 + step, SUBLIMITE)
    assert _annual_tax(anexo, higher) >= _annual_tax(anexo, rbt12)
    assert effective_rate(anexo, higher) >= effective_rate(anexo, rbt12)


def test_das_memo_per_anexo_and_total() -> None:
    memo = calculate_das({"I": D("50000.00"), "III": D("20000.00")}, D("1000000.00"))
    assert memo.faixa == 4 and memo.rbt12 == D("1000000.00") and not memo.rbt12_proportional
    first, second = memo.lines
    assert (first.anexo, first.nominal_rate, first.deduction) == ("I", D("0.107"), D("22500.00"))
    assert first.effective_rate == D("0.0845") and first.amount == D("4225.00")
    # Anexo III at 1M: (1M × 16% − 35,640) / 1M = 12.436% → 20,000 × 12.436% = 2,487.20
    assert second.effective_rate == D("0.12436") and second.amount == D("2487.20")
    assert memo.total_revenue == D("70000.00") and memo.total == D("6712.20")
    assert "LC 123/2006" in memo.legal_source
    with pytest.raises(dataclasses.FrozenInstanceError):
        memo.total = D(0)  # type: ignore[misc]


def test_amounts_round_half_up_to_cents() -> None:
    memo = calculate_das({"I": D("0.125")}, D("100000"))  # 0.125 × 4% = 0.005
    assert memo.total == D("0.01")
    memo = calculate_das({"I": D("1234.57")}, D("250000"))  # × 4.924% = 60.7902...
    assert memo.total == D("60.79")
    assert all(line.amount == line.amount.quantize(CENT) for line in memo.lines)


def test_fator_r_switches_at_exactly_28_percent() -> None:
    rbt12, revenue = D("600000.00"), {"V": D("10000.00")}
    at_28 = calculate_das(revenue, rbt12, payroll_12m=D("168000.00"))
    assert at_28.fator_r == D("0.28") and at_28.lines[0].taxed_as == "III"
    assert at_28.lines[0].effective_rate == D("0.1056")  # Anexo III, band 3
    below = calculate_das(revenue, rbt12, payroll_12m=D("167999.99"))
    assert below.fator_r is not None and below.fator_r < D("0.28")
    assert below.lines[0].taxed_as == "V" and below.lines[0].effective_rate == D("0.1785")
    unknown = calculate_das(revenue, rbt12)
    assert unknown.fator_r is None and unknown.lines[0].taxed_as == "V"
    # Fator R never moves other Anexos.
    other = calculate_das({"IV": D("1000.00")}, rbt12, payroll_12m=D("300000.00"))
    assert other.lines[0].taxed_as == "IV"


def test_fator_r_start_up_edge_cases() -> None:
    first = calculate_das({"V": D("10000")}, D("0"), payroll_12m=D("3000"), months_active=0)
    assert first.fator_r == D("0.3") and first.lines[0].taxed_as == "III"
    no_payroll = calculate_das({"V": D("10000")}, D("0"), payroll_12m=D("0"), months_active=0)
    assert no_payroll.fator_r == D("0.01") and no_payroll.lines[0].taxed_as == "V"
    no_revenue = calculate_das({"V": D("0")}, D("0"), payroll_12m=D("5000"), months_active=3)
    assert no_revenue.fator_r == D("0.28") and no_revenue.total == D("0.00")


def test_start_up_rbt12_is_proportional() -> None:
    # First month: the month's revenue × 12 (LC 123 art. 18 § 2º). Commerce, R$ 200,000 in the
    # first month → RBT12 2.4M, band 5, rate 10.6625% → DAS R$ 21,325.00.
    first = calculate_das({"I": D("200000.00")}, D("0"), months_active=0)
    assert first.rbt12 == D("2400000.00") and first.rbt12_proportional and first.faixa == 5
    assert first.total == D("21325.00")
    # Third month: mean of the two previous months (200k + 100k) × 12 = 1.8M.
    third = calculate_das({"I": D("50000.00")}, D("300000.00"), months_active=2)
    assert third.rbt12 == D("1800000.00") and third.rbt12_informed == D("300000.00")
    assert third.faixa == 4
    assert proportional_rbt12(D("70000"), D("0"), 7) == (D("120000.00"), True)
    assert proportional_rbt12(D("100000"), D("0"), 3) == (D("400000.00"), True)
    assert proportional_rbt12(D("500000"), D("1"), 12) == (D("500000"), False)
    assert proportional_rbt12(D("500000"), D("1"), None) == (D("500000"), False)
    with pytest.raises(InvalidInput):
        proportional_rbt12(D("1"), D("1"), -1)


def test_limits() -> None:
    at_limit = calculate_das({"III": D("10000.00")}, D("4800000.00"))
    assert at_limit.faixa == 6 and at_limit.sublimite_excedido
    assert not calculate_das({"I": D("1")}, SUBLIMITE).sublimite_excedido
    assert calculate_das({"I": D("1")}, SUBLIMITE + CENT).sublimite_excedido
    # RBT12 above R$ 4.8 M is not an exclusion by itself (LC 123/2006 art. 3º § 9 decides on the
    # calendar-year revenue, see app.fiscal.das): the 6th band's formula applies.
    above = calculate_das({"I": D("1000.00")}, D("4800000.01"))
    assert above.faixa == 6 and above.lines[0].effective_rate == effective_rate(
        "I", D("4800000.01")
    )
    first = calculate_das({"I": D("500000.00")}, D("0"), months_active=0)  # 6M proportional
    assert first.rbt12 == D("6000000.00") and first.faixa == 6


def test_bad_input_is_refused() -> None:
    with pytest.raises(InvalidInput, match="Decimal"):
        calculate_das({"I": 100.0}, D("1000"))  # type: ignore[dict-item]
    with pytest.raises(InvalidInput, match="Decimal"):
        calculate_das({"I": D("1")}, 1000.0)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="Anexo"):
        calculate_das({"VI": D("1")}, D("1000"))
    with pytest.raises(InvalidInput, match="não negativo"):
        calculate_das({"I": D("-1")}, D("1000"))
    empty = calculate_das({}, D("1000"))
    assert empty.total == D("0") and empty.lines == ()
