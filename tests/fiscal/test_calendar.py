"""Business-day calendar and competência: the days a due date may land on."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.errors import InvalidInput
from app.fiscal.calendar import BusinessCalendar, get_calendar
from app.fiscal.competencia import Competencia

NATIONAL = BusinessCalendar()
SAO_PAULO_CITY = BusinessCalendar(ibge="3550308")

dates = st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31))


@pytest.mark.parametrize(
    ("day", "why"),
    [
        (date(2026, 2, 16), "Carnaval segunda"),
        (date(2026, 2, 17), "Carnaval terça"),
        (date(2026, 4, 3), "Sexta-feira Santa"),
        (date(2026, 4, 21), "Tiradentes"),
        (date(2026, 11, 20), "Consciência Negra, nacional desde 2024"),
        (date(2026, 12, 25), "Natal"),
        (date(2026, 12, 31), "sem expediente bancário"),
        (date(2027, 1, 1), "Confraternização"),
        # Corpus Christi: federal "ponto facultativo", but no bank service anywhere (Febraban,
        # Res. CMN 4.880/2020): not a business day for payments.
        (date(2026, 6, 4), "Corpus Christi"),
        (date(2028, 6, 15), "Corpus Christi"),
        (date(2029, 5, 31), "Corpus Christi"),
        (date(2026, 6, 20), "sábado"),
        (date(2026, 6, 21), "domingo"),
    ],
)
def test_national_non_business_days(day: date, why: str) -> None:
    assert not NATIONAL.is_business_day(day), why


@pytest.mark.parametrize(
    ("day", "why"),
    [
        (date(2026, 2, 18), "quarta-feira de cinzas é dia útil"),
        (date(2026, 12, 24), "véspera de Natal tem expediente"),
        (date(2026, 7, 9), "09/07 é feriado só em SP"),
        (date(2026, 1, 20), "São Sebastião é feriado só no Rio"),
        (date(2023, 11, 20), "20/11 ainda não era nacional em 2023"),
    ],
)
def test_national_business_days(day: date, why: str) -> None:
    assert NATIONAL.is_business_day(day), why


def test_state_and_municipal_holidays() -> None:
    sp_state = BusinessCalendar(uf="SP")
    assert not sp_state.is_business_day(date(2026, 7, 9))  # Revolução Constitucionalista
    assert sp_state.is_business_day(date(2027, 1, 25))  # city anniversary is not statewide
    assert not SAO_PAULO_CITY.is_business_day(date(2027, 1, 25))  # aniversário da cidade
    assert not SAO_PAULO_CITY.is_business_day(date(2026, 6, 4))  # Corpus Christi (municipal)
    assert not SAO_PAULO_CITY.is_business_day(date(2026, 7, 9))  # inherits the state holiday
    assert not BusinessCalendar(ibge="3304557").is_business_day(date(2027, 1, 20))  # Rio
    bh = BusinessCalendar(ibge="3106200")
    assert not bh.is_business_day(date(2026, 12, 8))
    assert bh.uf == "MG"
    assert NATIONAL.is_business_day(date(2026, 12, 8))


def test_operator_registered_extra_dates_and_holiday_names() -> None:
    cal = BusinessCalendar(ibge="3550308", extra=[date(2026, 3, 10)])
    assert not cal.is_business_day(date(2026, 3, 10))
    names = cal.holidays(2026)
    assert names[date(2026, 3, 10)] == "Feriado cadastrado"
    assert names[date(2026, 1, 25)] == "Aniversário da cidade de São Paulo"
    assert names[date(2026, 4, 21)] == "Tiradentes"


def test_bad_places_are_rejected_in_portuguese() -> None:
    with pytest.raises(InvalidInput, match="UF desconhecida"):
        BusinessCalendar(uf="XX")
    with pytest.raises(InvalidInput, match="pertence à UF SP"):
        BusinessCalendar(uf="RJ", ibge="3550308")
    with pytest.raises(InvalidInput, match="IBGE"):
        BusinessCalendar(ibge="123")


def test_navigation() -> None:
    assert NATIONAL.next_business_day(date(2026, 2, 14)) == date(2026, 2, 18)
    assert NATIONAL.next_business_day(date(2026, 2, 18)) == date(2026, 2, 18)
    assert NATIONAL.previous_business_day(date(2026, 2, 17)) == date(2026, 2, 13)
    assert NATIONAL.add_business_days(date(2026, 2, 13), 1) == date(2026, 2, 18)
    assert NATIONAL.add_business_days(date(2026, 2, 18), -1) == date(2026, 2, 13)
    assert NATIONAL.add_business_days(date(2026, 2, 15), 0) == date(2026, 2, 15)
    assert NATIONAL.business_days_between(date(2026, 2, 13), date(2026, 2, 20)) == 3
    assert NATIONAL.business_days_between(date(2026, 2, 20), date(2026, 2, 13)) == -3
    assert NATIONAL.last_business_day(2026, 2) == date(2026, 2, 27)
    assert NATIONAL.last_business_day(2026, 12) == date(2026, 12, 30)  # 31/12: no bank service


def test_dec_31_can_be_treated_as_business_day() -> None:
    assert BusinessCalendar(closed_dec_31=False).is_business_day(date(2026, 12, 31))


def test_get_calendar_is_shared() -> None:
    assert get_calendar("SP") is get_calendar("SP")


@given(dates)
def test_next_business_day_is_business_and_not_before(d: date) -> None:
    nxt = NATIONAL.next_business_day(d)
    assert nxt >= d and NATIONAL.is_business_day(nxt)
    assert all(not NATIONAL.is_business_day(d + timedelta(i)) for i in range((nxt - d).days))


@given(dates)
def test_previous_business_day_is_business_and_not_after(d: date) -> None:
    prev = SAO_PAULO_CITY.previous_business_day(d)
    assert prev <= d and SAO_PAULO_CITY.is_business_day(prev)


@given(dates, st.integers(min_value=-40, max_value=40))
def test_add_business_days_round_trips(d: date, n: int) -> None:
    start = NATIONAL.next_business_day(d)
    moved = NATIONAL.add_business_days(start, n)
    assert NATIONAL.is_business_day(moved)
    assert NATIONAL.add_business_days(moved, -n) == start
    assert NATIONAL.business_days_between(start, moved) == n


@given(st.integers(2020, 2035), st.integers(1, 12))
def test_last_business_day_is_the_last_one(year: int, month: int) -> None:
    last = NATIONAL.last_business_day(year, month)
    comp = Competencia(year, month)
    assert NATIONAL.is_business_day(last) and Competencia.of(last) == comp
    assert NATIONAL.next_business_day(last + timedelta(1)) > comp.last_day


def test_competencia_parse_format_and_arithmetic() -> None:
    c = Competencia.parse("2026-05")
    assert c == Competencia.parse("05/2026") == Competencia.parse("202605")
    assert str(c) == "2026-05" and c.label == "05/2026"
    assert c.next() == Competencia(2026, 6) and c.prev() == Competencia(2026, 4)
    assert Competencia(2026, 12).next() == Competencia(2027, 1)
    assert Competencia(2026, 1).shift(-13) == Competencia(2024, 12)
    assert c.quarter == 2 and not c.is_quarter_end and Competencia(2026, 6).is_quarter_end
    assert Competencia(2026, 2).last_day == date(2026, 2, 28)
    assert Competencia(2026, 4).day(31) == date(2026, 4, 30)
    months = list(Competencia.range(Competencia(2025, 11), Competencia(2026, 2)))
    assert [str(m) for m in months] == ["2025-11", "2025-12", "2026-01", "2026-02"]
    assert list(Competencia.range(Competencia(2026, 2), Competencia(2026, 1))) == []
    assert Competencia(2025, 11).months_until(Competencia(2026, 2)) == 3
    assert sorted([Competencia(2026, 1), Competencia(2025, 12)])[0] == Competencia(2025, 12)


@pytest.mark.parametrize("text", ["2026-13", "13/2026", "2026/05", "", "abc", "2026-5"])
def test_competencia_rejects_garbage(text: str) -> None:
    with pytest.raises(InvalidInput):
        Competencia.parse(text)


@given(st.integers(1900, 2100), st.integers(1, 12), st.integers(-500, 500))
def test_competencia_shift_round_trips(year: int, month: int, n: int) -> None:
    c = Competencia(year, month)
    assert c.shift(n).shift(-n) == c
    assert c.months_until(c.shift(n)) == n
    assert Competencia.parse(str(c)) == c


@pytest.mark.parametrize("text", ["٢٠٢٦-٠٥", "２０２６-０５", "05/２０２６", "２０２６０５"])
def test_competencia_digits_are_ascii(text: str) -> None:
    # \d would take any Unicode digit (int() reads them): only 0-9 is a competência.
    with pytest.raises(InvalidInput):
        Competencia.parse(text)
