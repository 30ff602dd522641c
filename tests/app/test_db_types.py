"""The dialect-aware type layer (models/base.py, app/db.py) gives the same answers on PostgreSQL
and on MariaDB (CONTAB_TEST_DB=mysql runs this file there): JSON, timezone-aware timestamps,
exact (case- and accent-sensitive) keys, strict refusal of over-long values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from models import AuditLog, Empresa, OperationalLog, Staff

BRT = timezone(timedelta(hours=-3))


def _empresa(cnpj: str, **extra: object) -> Empresa:
    values: dict[str, object] = {"cnpj": cnpj, "razao_social": "Padaria", "regime": "SIMPLES",
                                 "uf": "SP", "ibge_code": "3550308", **extra}  # fmt: skip
    return Empresa(**values)


def test_json_round_trips_nesting_null_and_four_byte_characters(db: Session) -> None:
    details = {"itens": [1, "ação", "😀", {"n": None}], "ok": True, "valor": "10.50"}
    row = AuditLog(actor="ana", action="teste", entity="x", details=details)
    db.add(row)
    db.flush()
    db.expire_all()
    assert db.get(AuditLog, row.id).details == details  # type: ignore[union-attr]


def test_timestamps_keep_the_instant_and_microseconds_and_come_back_aware(db: Session) -> None:
    at = datetime(2026, 1, 31, 21, 30, 5, 123456, tzinfo=BRT)
    row = AuditLog(actor="ana", action="teste", entity="x", at=at)
    db.add(row)
    db.flush()
    db.expire_all()
    back = db.get(AuditLog, row.id).at  # type: ignore[union-attr]
    assert back.tzinfo is not None and back.utcoffset() == timedelta(0)
    assert back == at and back.microsecond == 123456
    found = db.scalars(sa.select(AuditLog.id).where(AuditLog.at == at)).all()
    assert found == [row.id]  # an aware parameter in a filter matches the same instant


def test_server_default_now_is_utc(db: Session) -> None:
    before = datetime.now(UTC)
    row = OperationalLog(level="INFO", source="teste", message="m")
    db.add(row)
    db.flush()
    db.refresh(row)
    # A wall-clock (non-UTC) default would be hours away; the hour is the whole check.
    assert row.at.tzinfo is not None and abs(row.at - before) < timedelta(hours=1)


def test_now_keeps_microseconds(db: Session) -> None:
    # Both spell func.now() with microseconds; two readings in one statement never both round
    # to a whole second unless the clock really sits on one (1 in a million).
    stamps = db.execute(sa.select(sa.func.now(), sa.func.now())).one()
    assert stamps[0].tzinfo is not None
    row = OperationalLog(level="INFO", source="micro", message="m")
    db.add(row)
    db.flush()
    db.refresh(row)
    later = db.scalar(sa.select(sa.func.now()))
    assert row.at <= later and (row.at.microsecond, later.microsecond) != (0, 0)


def test_an_aware_parameter_in_plain_sql_is_stored_as_its_utc_instant(db: Session) -> None:
    at = datetime(2026, 3, 1, 8, 0, tzinfo=BRT)
    db.execute(
        sa.text(
            "INSERT INTO operational_logs (at, level, source, message, details)"
            " VALUES (:at, 'INFO', 'sql', 'm', '{}')"
        ),
        {"at": at},
    )
    back = db.scalars(sa.select(OperationalLog.at).where(OperationalLog.source == "sql")).one()
    assert back == at == datetime(2026, 3, 1, 11, 0, tzinfo=UTC)
    raw = db.scalar(sa.text("SELECT at FROM operational_logs WHERE source = 'sql'"))
    assert raw.tzinfo is not None and raw == at  # aware through plain SQL too


def test_keys_differing_only_in_case_or_accents_stay_distinct(db: Session) -> None:
    # Alphanumeric CNPJ (IN RFB 2.229/2024) and e-mails: a *_ci collation would merge these.
    db.add_all([_empresa("12ABC345000167"), _empresa("12abc345000167")])
    db.add_all([Staff(name="José", email="jose@escritorio.com.br"),
                Staff(name="Josée", email="josé@escritorio.com.br"),
                Staff(name="JOSE", email="JOSE@escritorio.com.br")])  # fmt: skip
    db.flush()
    assert db.scalars(sa.select(Empresa.cnpj).where(Empresa.cnpj == "12abc345000167")).all() == [
        "12abc345000167"
    ]
    emails = db.scalars(sa.select(Staff.email).where(Staff.email == "jose@escritorio.com.br"))
    assert emails.all() == ["jose@escritorio.com.br"]


def test_an_over_long_value_is_refused_not_truncated(db: Session) -> None:
    with pytest.raises(sa.exc.DataError), db.begin_nested():
        db.add(_empresa("11222333000181", uf="SPX"))
        db.flush()


@pytest.mark.parametrize(
    "values",
    [{"razao_social": "ab\x00cd"}, {"characteristics": {"fis\x00cal": True}}],
    ids=["text", "json"],
)
def test_a_nul_character_is_refused_as_a_data_error(db: Session, values: dict[str, object]) -> None:
    # PostgreSQL refuses NUL in text and jsonb; MySQL would store it (app/db.py refuses it).
    with pytest.raises(sa.exc.DataError, match="NUL|Unicode escape|0x00"), db.begin_nested():
        db.add(_empresa("11222333000181", **values))
        db.flush()


def test_nulls_last_and_first_order_the_same_on_both_databases(db: Session) -> None:
    from datetime import date

    days = {"11111111000191": None, "22222222000191": date(2026, 1, 5),
            "33333333000191": date(2026, 2, 5)}  # fmt: skip
    db.add_all([_empresa(cnpj, opened_on=day) for cnpj, day in days.items()])
    db.flush()
    newest = db.scalars(sa.select(Empresa.cnpj).order_by(Empresa.opened_on.desc().nulls_last()))
    assert newest.all() == ["33333333000191", "22222222000191", "11111111000191"]
    oldest = db.scalars(sa.select(Empresa.cnpj).order_by(Empresa.opened_on.asc().nulls_first()))
    assert oldest.all() == ["11111111000191", "22222222000191", "33333333000191"]
    plain = db.scalars(sa.select(Empresa.cnpj).order_by(Empresa.opened_on.nulls_last()))
    assert plain.all() == ["22222222000191", "33333333000191", "11111111000191"]
