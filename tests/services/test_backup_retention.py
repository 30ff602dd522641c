"""Retention policy (property-tested) and pruning of a real S3 backup target."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from app.backup import run_backup
from app.backup.retention import BackupDay, Policy, legal_hold, prune, retained_days
from app.backup.target import object_key
from app.db import get_sessionmaker, session_scope
from app.settings import get_settings
from models import AuditLog, OrderAttachment, StoredFile
from tests.services.backup_support import data_storage, s3_fixture, s3_target, seed  # noqa: F401

TODAY = date(2026, 11, 28)

days_strategy = st.lists(
    st.builds(
        BackupDay,
        day=st.dates(min_value=TODAY - timedelta(days=365 * 10), max_value=TODAY),
        ok=st.booleans(),
        hold=st.booleans(),
    ),
    max_size=80,
)
policy_strategy = st.builds(
    Policy, keep_daily=st.integers(1, 60), keep_monthly_years=st.integers(1, 8)
)


@settings(max_examples=300, deadline=None)
@given(days_strategy, policy_strategy)
def test_policy_never_drops_what_it_must_keep(days: list[BackupDay], policy: Policy) -> None:
    keep = retained_days(days, TODAY, policy)
    assert keep <= {d.day for d in days}
    for d in days:
        if (TODAY - d.day).days < policy.keep_daily or d.hold:
            assert d.day in keep  # younger than the policy, or under legal hold
    window = TODAY.replace(year=TODAY.year - policy.keep_monthly_years)
    firsts: dict[tuple[int, int], date] = {}
    for d in sorted(days, key=lambda x: x.day):
        if d.ok:
            firsts.setdefault((d.day.year, d.day.month), d.day)
    assert {f for f in firsts.values() if f >= window} <= keep
    ok_days = [d.day for d in days if d.ok]
    if ok_days:
        assert max(ok_days) in keep
    # everything else goes, and pruning again keeps the same days
    dropped = {d.day for d in days} - keep
    for day in dropped:
        assert (TODAY - day).days >= policy.keep_daily
    again = retained_days([d for d in days if d.day in keep], TODAY, policy)
    assert again == keep


def test_policy_exact_example() -> None:
    days = [
        BackupDay(date(2019, 1, 1)),  # first of a month more than 7 years ago
        BackupDay(date(2020, 2, 1), ok=False),  # failed: not the month's keeper
        BackupDay(date(2020, 2, 2)),  # first successful of Feb 2020
        BackupDay(date(2020, 2, 3)),
        BackupDay(date(2021, 5, 9), hold=True),
        BackupDay(date(2026, 10, 1)),
        BackupDay(date(2026, 10, 20)),  # 39 days old
        BackupDay(date(2026, 10, 24)),  # 35 days old: beyond the 35 daily copies
        BackupDay(date(2026, 10, 25)),  # 34 days old: kept
        BackupDay(date(2026, 11, 28), ok=False),  # today, failed: still kept (younger)
    ]
    keep = retained_days(days, TODAY, Policy(keep_daily=35, keep_monthly_years=7))
    assert sorted(keep) == [
        date(2020, 2, 2), date(2021, 5, 9), date(2026, 10, 1), date(2026, 10, 25), date(2026, 11, 28),
    ]  # fmt: skip


def test_prune_keeps_exactly_what_the_policy_says(clean_db, s3, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = data_storage(tmp_path)
    seed(data)
    target = s3_target(s3)
    sessions, cfg = get_sessionmaker(), get_settings()
    with session_scope() as s:
        extra = s.scalar(select(StoredFile).where(StoredFile.purpose == "pedido"))
        assert extra is not None
        extra_sha = extra.sha256
    for day in (date(2026, 1, 1), date(2026, 1, 15), date(2026, 1, 20)):
        run_backup(sessions, data, cfg, today=day, target=target)
    legal_hold(target, "2026-01-20", reason="processo fiscal 123")
    with session_scope() as s:  # the order's attachment disappears before March
        s.execute(delete(OrderAttachment))
        s.execute(delete(StoredFile).where(StoredFile.sha256 == extra_sha))
    for day in (date(2026, 3, 1), date(2026, 11, 1), TODAY):
        run_backup(sessions, data, cfg, today=day, target=target)
    assert target.exists(object_key(extra_sha))

    preview = prune(sessions, target, today=TODAY, policy=Policy(35, 7), dry_run=True)
    assert preview["removidos"] == ["2026-01-15"] and target.days()[1] == "2026-01-15"
    result = prune(sessions, target, today=TODAY, policy=Policy(35, 7))
    assert result["removidos"] == ["2026-01-15"]
    assert target.days() == ["2026-01-01", "2026-01-20", "2026-03-01", "2026-11-01", "2026-11-28"]
    assert target.exists(object_key(extra_sha))  # still in January's manifests
    with session_scope() as s:
        entry = s.scalar(select(AuditLog).where(AuditLog.action == "backup_expurgado"))
        assert entry is not None and entry.details["removidos"] == ["2026-01-15"]

    legal_hold(target, "2026-01-20", reason="", release=True)
    later = prune(sessions, target, today=date(2027, 1, 1), policy=Policy(35, 7))
    assert later["removidos"] == ["2026-01-20"]
    # a year on, the January objects are still referenced by 2026-01-01 (the month's keeper)
    manifest = json.loads(target.get("days/2026-01-01/manifest.json"))
    assert extra_sha in {o["sha256"] for o in manifest["objetos"].values()}
    final = prune(sessions, target, today=date(2034, 1, 2), policy=Policy(35, 7))
    assert "2026-01-01" in final["removidos"] and final["objetos_removidos"] >= 1
    assert not target.exists(object_key(extra_sha))
