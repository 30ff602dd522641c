"""Simples Nacional limits decided on RBA (calendar-year revenue), the rate on RBT12.

Legal source: LC 123/2006 art. 3º II and §§ 9, 9-A (limit R$ 4.8 M, exclusion), arts. 13-A,
19 and 20 §§ 1º, 1º-A (sublimit R$ 3.6 M: ICMS/ISS leave the DAS), art. 18 § 1º (RBT12 only
chooses the rate); Perguntas e Respostas do Simples Nacional (RFB) 4.3; repartition of the
tributes: LC 123/2006 Anexos I–V (red. LC 155/2016).
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from app.errors import DomainError
from app.fiscal.competencia import Competencia
from app.fiscal.das import (
    REVIEW_ICMS_ISS_OUT,
    REVIEW_LIMIT_RBA,
    REVIEW_RBT12_ABOVE_LIMIT,
    REVIEW_SUBLIMIT_RBA,
    monthly_das,
)

COMP = Competencia(2026, 5)


def per_month(values: dict[str, D], anexo: str = "I") -> dict[str, dict[str, D]]:
    return {k: {anexo: v} for k, v in values.items()}


def spread(start: str, end: str, value: D) -> dict[str, D]:
    return {
        str(c): value for c in Competencia.range(Competencia.parse(start), Competencia.parse(end))
    }


def test_rbt12_above_limit_while_rba_is_not_is_no_exclusion_but_flagged() -> None:
    # LC 123/2006 art. 3º § 9: exclusion follows RBA; RBT12 (art. 18 § 1º) only sets the rate.
    # 2025-05..2025-12: 8 × 400k = 3.2 M (RBAA 2025 ≤ 3.6 M); 2026-01..04: 4 × 450k = 1.8 M.
    rev = spread("2025-05", "2025-12", D("400000")) | spread("2026-01", "2026-04", D("450000"))
    rev[str(COMP)] = D("100000")
    das = monthly_das(
        competencia=COMP, revenue=per_month(rev), payroll={}, anexos=["I"], opened_on=None
    )
    assert das.calculation.rbt12 == D("5000000")
    assert das.calculation.faixa == 6
    assert REVIEW_RBT12_ABOVE_LIMIT in das.review
    assert das.rba == D("1900000") and das.rbaa == D("3200000")
    assert not das.calculation.icms_iss_out
    assert das.memo()["rba"] == "1900000"


def test_over_the_sublimit_by_rba_the_das_has_no_icms() -> None:
    # LC 123/2006 art. 20 §§ 1º, 1º-A: RBA above 3.6 M by more than 20% (4.32 M) → ICMS/ISS
    # out of the DAS from the next month. Jan–Apr 2026: 4 × 1.1 M = 4.4 M.
    rev = spread("2026-01", "2026-04", D("1100000"))
    rev[str(COMP)] = D("100000.00")
    das = monthly_das(
        competencia=COMP, revenue=per_month(rev), payroll={}, anexos=["I"], opened_on=None
    )
    calc = das.calculation
    assert calc.icms_iss_out and REVIEW_ICMS_ISS_OUT in das.review
    # RBT12 4.4 M → band 6 of Anexo I, whose repartition has no ICMS share: nothing to remove.
    assert calc.faixa == 6 and das.amount == (D("100000") * calc.lines[0].effective_rate).quantize(
        D("0.01")
    )


def test_impeded_by_last_years_rba_removes_the_icms_share_of_band_5() -> None:
    # RBAA 2025 = 3.7 M > 3.6 M (art. 20 § 1º-A: effects in the next calendar year) while the
    # 2026 revenue brings RBT12 down to band 5: the DAS leaves out ICMS (33.5% of Anexo I band 5).
    rev = spread("2025-01", "2025-12", D("308333.33"))
    rev["2025-12"] = D("3700000") - D("308333.33") * 11
    rev |= spread("2026-01", "2026-04", D("10000"))
    rev[str(COMP)] = D("100000.00")
    das = monthly_das(
        competencia=COMP, revenue=per_month(rev), payroll={}, anexos=["I"], opened_on=None
    )
    calc = das.calculation
    assert calc.faixa == 5 and calc.icms_iss_out
    line = calc.lines[0]
    full = (D("100000") * line.effective_rate).quantize(D("0.01"))
    icms = (D("100000") * line.effective_rate * D("0.335")).quantize(D("0.01"))
    assert line.local_tax == "ICMS" and line.local_amount == icms
    assert das.amount == full - icms
    assert das.memo()["linhas"][0]["icms_iss_excluido"] == str(icms)


def test_iss_of_anexo_iii_is_capped_at_5_percent_when_removed() -> None:
    # LC 123/2006 Anexo III, 5th band: ISS at most 5% of the revenue.
    rev = spread("2025-06", "2025-12", D("500000")) | spread("2026-01", "2026-04", D("20000"))
    rev["2025-01"] = D("300000")  # RBAA 2025 = 3.8 M
    rev[str(COMP)] = D("10000.00")
    das = monthly_das(
        competencia=COMP, revenue=per_month(rev, "III"), payroll={}, anexos=["III"], opened_on=None
    )
    line = das.calculation.lines[0]
    assert das.calculation.faixa == 5 and line.effective_rate * D("0.335") > D("0.05")
    assert line.local_tax == "ISS" and line.local_amount == D("500.00")


def test_month_crossing_the_sublimit_keeps_icms_and_is_flagged() -> None:
    # Excess up to 20%: impediment only from next January (art. 20 § 1º-A).
    rev = spread("2026-01", "2026-04", D("880000"))  # 3.52 M before the month
    rev[str(COMP)] = D("200000")  # RBA 3.72 M ≤ 4.32 M
    das = monthly_das(
        competencia=COMP, revenue=per_month(rev), payroll={}, anexos=["I"], opened_on=None
    )
    assert not das.calculation.icms_iss_out and REVIEW_SUBLIMIT_RBA in das.review


def test_exclusion_follows_rba() -> None:
    # art. 3º §§ 9, 9-A: RBAA above 4.8 M → out of the Simples from 1 January.
    rev = spread("2025-01", "2025-12", D("410000"))  # 4.92 M
    rev[str(COMP)] = D("1000")
    with pytest.raises(DomainError) as err:
        monthly_das(
            competencia=COMP, revenue=per_month(rev), payroll={}, anexos=["I"], opened_on=None
        )
    assert err.value.code == "excede_limite_simples"
    # RBA of the year above 4.8 M by more than 20% (5.76 M) before the month → excluded.
    rev = spread("2026-01", "2026-04", D("1500000"))
    rev[str(COMP)] = D("1000")
    with pytest.raises(DomainError) as err:
        monthly_das(
            competencia=COMP, revenue=per_month(rev), payroll={}, anexos=["I"], opened_on=None
        )
    assert err.value.code == "excede_limite_simples"
    # Above 4.8 M but within 20%: still in the Simples this year, flagged.
    rev = spread("2026-01", "2026-04", D("1250000"))  # 5.0 M
    rev[str(COMP)] = D("1000")
    das = monthly_das(
        competencia=COMP, revenue=per_month(rev), payroll={}, anexos=["I"], opened_on=None
    )
    assert REVIEW_LIMIT_RBA in das.review and das.calculation.icms_iss_out


def test_start_up_year_limits_are_proportional() -> None:
    # LC 123/2006 art. 3º § 10: opened in October, 3 months in the year → limit 1.2 M and
    # sublimit 900k; 1.1 M before December exceeds the sublimit by more than 20% (1.08 M).
    from datetime import date

    from app.fiscal.das import year_limits

    opened = date(2026, 10, 5)
    assert year_limits(2026, opened).limit == D("1200000.00")
    assert year_limits(2026, opened).sublimit == D("900000.00")
    assert year_limits(2027, opened).limit == D("4800000.00")
    rev = {"2026-10": D("500000"), "2026-11": D("600000"), "2026-12": D("100000")}
    das = monthly_das(
        competencia=Competencia(2026, 12),
        revenue=per_month(rev),
        payroll={},
        anexos=["I"],
        opened_on=opened,
    )
    assert das.calculation.icms_iss_out and REVIEW_ICMS_ISS_OUT in das.review
    assert REVIEW_LIMIT_RBA not in das.review  # RBA 1.2 M: at the limit, not above
