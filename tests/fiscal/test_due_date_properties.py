"""Properties of every federal due date over 2025–2040 on the bank calendar.

- A payment or filing due date moved by its rule (postpone, anticipate, last / n-th business day)
  is always a bank business day: not a weekend, national holiday, Carnaval or Corpus Christi
  (Res. CMN 4.880/2020; Febraban) nor 31/12.
- A date kept by its rule (DEFIS, DASN-SIMEI: "none") has an effective date that is a business
  day and never later than the legal one.
- An anticipated date is never later than its legal day (e.g. Lei 8.212/1991 art. 30, I, b;
  MP 2.158-35/2001 art. 18), a postponed one never earlier (Res. CGSN 140/2018 art. 40).
"""

from __future__ import annotations

from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from app.fiscal.calendar import get_calendar
from app.fiscal.competencia import Competencia
from app.fiscal.obligations import (
    FixedDate,
    FixedDay,
    Obligation,
    due_date,
    effective_due_date,
    internal_target_date,
    is_generated_for,
    load_catalogue,
)

NATIONAL = get_calendar()
FEDERAL = [o for o in load_catalogue().obligations if o.calendar_scope == "national"]
competencias = st.builds(Competencia, st.integers(2025, 2040), st.integers(1, 12))


def _legal_day(ob: Obligation, comp: Competencia) -> date | None:
    rule = ob.due
    if isinstance(rule, FixedDay):
        return comp.shift(rule.months_after).day(rule.day)
    if isinstance(rule, FixedDate):
        return Competencia(comp.year + rule.years_after, rule.month).day(rule.day)
    return None  # computed on business days already


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(FEDERAL), competencias)
def test_federal_due_dates_are_bank_business_days(ob: Obligation, comp: Competencia) -> None:
    if not is_generated_for(ob, comp):
        return
    due = due_date(ob, comp, NATIONAL)
    legal = _legal_day(ob, comp)
    effective = effective_due_date(due, NATIONAL)
    assert NATIONAL.is_business_day(effective) and effective <= due
    if ob.non_business_day != "none" or legal is None:
        assert NATIONAL.is_business_day(due), (ob.code, str(comp), due)
    if ob.non_business_day == "anticipate":
        assert legal is not None and due <= legal
    if ob.non_business_day == "postpone":
        assert legal is not None and due >= legal
    target = internal_target_date(ob, due, NATIONAL)
    assert NATIONAL.is_business_day(target) and target <= effective


def test_every_year_has_corpus_christi_and_carnaval_closed() -> None:
    from datetime import timedelta

    from dateutil.easter import easter

    for year in range(2025, 2041):
        e = easter(year)
        for offset in (-48, -47, 60):
            assert not NATIONAL.is_business_day(e + timedelta(days=offset)), (year, offset)
        assert NATIONAL.is_business_day(e - timedelta(days=46))  # ash Wednesday
