"""Bank calendar (Corpus Christi) and the municipal calendars of the 27 capitals.

Sources: Res. CMN 4.880/2020 and Febraban's bank-holiday calendar (no bank service on Corpus
Christi, a federal "ponto facultativo"); Lei federal 9.093/1995 (municipal holidays by municipal
law); the municipal laws named in ``app/fiscal/data/local_holidays.toml``.
"""

from __future__ import annotations

from datetime import date

import pytest

from app.fiscal.calendar import BusinessCalendar, get_calendar
from app.fiscal.competencia import Competencia
from app.fiscal.holidays_local import CAPITALS, has_calendar, without_calendar
from app.fiscal.obligations import due_date, internal_target_date, load_catalogue

CAT = load_catalogue()
NATIONAL = get_calendar()
SALVADOR, PORTO_ALEGRE = "2927408", "4314902"


@pytest.mark.parametrize(
    ("code", "comp", "due"),
    [
        ("ESOCIAL", "2028-05", date(2028, 6, 16)),  # 15/06/2028 Corpus Christi → postponed
        ("EFD-REINF", "2028-05", date(2028, 6, 16)),
        ("DCTFWEB", "2029-04", date(2029, 5, 30)),  # last business day: 31/05/2029 closed
        ("IRPJ-CSLL-EST", "2029-04", date(2029, 5, 30)),
    ],
)
def test_corpus_christi_moves_federal_dates(code: str, comp: str, due: date) -> None:
    assert due_date(CAT.get(code), Competencia.parse(comp), NATIONAL) == due


def test_corpus_christi_shifts_internal_targets() -> None:
    # eSocial 05/2028: due 16/06/2028; 2 business days before it skip Corpus Christi (15/06).
    esocial = CAT.get("ESOCIAL")
    due = due_date(esocial, Competencia(2028, 5), NATIONAL)
    assert internal_target_date(esocial, due, NATIONAL) == date(2028, 6, 13)


def test_every_capital_has_a_calendar() -> None:
    assert len(CAPITALS) == 27
    assert all(has_calendar(ibge) for ibge in CAPITALS)
    assert without_calendar(["2927408", "3509502", "3509502", None, ""]) == ["3509502"]


@pytest.mark.parametrize(
    ("ibge", "day"),
    [
        (SALVADOR, date(2027, 6, 24)),  # São João
        (SALVADOR, date(2027, 12, 8)),  # N. S. da Conceição da Praia
        (SALVADOR, date(2027, 7, 2)),  # Independência da Bahia (state, from `holidays`)
        (PORTO_ALEGRE, date(2027, 2, 2)),  # N. S. dos Navegantes
        (PORTO_ALEGRE, date(2027, 9, 20)),  # Revolução Farroupilha (state)
        ("3106200", date(2028, 8, 15)),  # Belo Horizonte: Assunção
        ("3304557", date(2027, 1, 20)),  # Rio de Janeiro: São Sebastião
        ("2611606", date(2027, 7, 16)),  # Recife: N. S. do Carmo
        ("4106902", date(2027, 9, 8)),  # Curitiba: N. S. da Luz dos Pinhais
        ("2408102", date(2027, 1, 6)),  # Natal: Santos Reis
    ],
)
def test_capital_holidays(ibge: str, day: date) -> None:
    assert not get_calendar(None, ibge).is_business_day(day)
    assert NATIONAL.is_business_day(day)


def test_iss_dates_and_targets_in_salvador_and_porto_alegre() -> None:
    iss = CAT.get("ISS")
    salvador = BusinessCalendar(ibge=SALVADOR)
    due = due_date(iss, Competencia(2027, 11), salvador)
    assert due == date(2027, 12, 10)
    # 3 business days before 10/12/2027 skip 08/12 (Conceição da Praia): 06/12, not 07/12.
    assert internal_target_date(iss, due, salvador) == date(2027, 12, 6)
    poa = BusinessCalendar(ibge=PORTO_ALEGRE)
    # ISS 01/2027 due 10/02/2027 (ash Wednesday, a business day); 5 business days before it
    # skip Carnaval (08–09/02) and Navegantes (02/02): 29/01/2027.
    due = due_date(iss, Competencia(2027, 1), poa)
    assert due == date(2027, 2, 10)
    assert poa.add_business_days(due, -5) == date(2027, 1, 29)
    assert NATIONAL.add_business_days(due, -5) == date(2027, 2, 1)
