"""The office's day: one date at the office, one answer to "is today the configured day"."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy.orm import Session

from app.errors import NotFound
from app.platform.office_settings import (
    GENERATION_DAY,
    MONTHLY_REQUESTS_DAY,
    REMINDERS,
    office_day,
    office_settings,
    office_today,
    set_office_settings,
    setting_defaults,
)
from tasks.defaults import run_day


def test_the_office_date_is_taken_in_its_timezone() -> None:
    # 02:00 UTC on 1 April is still 31 March in São Paulo (UTC-3).
    assert office_today(datetime(2026, 4, 1, 2, 0, tzinfo=UTC)) == date(2026, 3, 31)
    assert run_day("2026-04-05") == date(2026, 4, 5) == run_day(date(2026, 4, 5))


def test_defaults_come_from_the_one_table(db: Session) -> None:
    assert office_settings(db, REMINDERS) == {"a_cada_dias_uteis": 3, "maximo": 4}
    assert office_day(db, key=GENERATION_DAY, today=date(2026, 4, 5)).is_today
    requests = office_day(db, key=MONTHLY_REQUESTS_DAY, today=date(2026, 4, 3))
    assert (requests.day, requests.is_today, requests.reached) == (1, False, True)
    with pytest.raises(NotFound) as unknown:
        setting_defaults("dia_de_folga")
    assert unknown.value.code == "configuracao_desconhecida"


def test_a_stored_day_changes_the_answer(db: Session) -> None:
    set_office_settings(db, key=GENERATION_DAY, value={"dia": 12}, actor="ana")
    before = office_day(db, key=GENERATION_DAY, today=date(2026, 4, 5))
    on = office_day(db, key=GENERATION_DAY, today=date(2026, 4, 12))
    assert (before.is_today, before.reached, on.is_today, on.day) == (False, False, True, 12)
