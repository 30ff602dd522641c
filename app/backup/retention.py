"""Retention as policy code: which backup days to keep, and pruning of the rest.

Policy (GFS-like, as in restic ``forget --keep-daily/--keep-monthly``): every day younger than
``keep_daily`` days is kept whatever its outcome; the first successful backup of each month is
kept for ``keep_monthly_years`` years (accounting records must be kept while the tax may still be
claimed — CTN arts. 173/174, 5 years after the tax year — 7 years by default); a day under legal
hold is never pruned; the latest successful backup is always kept. Objects are removed only when
no retained manifest references them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.backup.run import backup_lock
from app.backup.target import BackupTarget, day_prefix, object_key
from app.platform import audit
from models import BackupRun

__all__ = ["BackupDay", "Policy", "legal_hold", "prune", "retained_days"]


@dataclass(frozen=True, slots=True)
class Policy:
    """How long backups are kept."""

    keep_daily: int = 35
    keep_monthly_years: int = 7


@dataclass(frozen=True, slots=True)
class BackupDay:
    """One day present in the target: did its backup succeed, is it under legal hold."""

    day: date
    ok: bool = True
    hold: bool = False


def _years_before(today: date, years: int) -> date:
    try:
        return today.replace(year=today.year - years)
    except ValueError:  # 29 February
        return today.replace(year=today.year - years, day=28)


def retained_days(days: Iterable[BackupDay], today: date, policy: Policy) -> set[date]:
    """The days the policy keeps (a pure function: property-tested)."""
    items = sorted(set(days), key=lambda d: d.day)
    keep: set[date] = set()
    monthly_from = _years_before(today, policy.keep_monthly_years)
    first_of_month: dict[tuple[int, int], date] = {}
    for d in items:
        if d.ok:
            first_of_month.setdefault((d.day.year, d.day.month), d.day)
        if d.hold or (today - d.day).days < policy.keep_daily:
            keep.add(d.day)
    keep |= {day for day in first_of_month.values() if day >= monthly_from}
    successful = [d.day for d in items if d.ok]
    if successful:
        keep.add(successful[-1])
    return keep


def legal_hold(target: BackupTarget, day: str, *, reason: str, release: bool = False) -> None:
    """Put (or lift) a legal hold on a day: a marker in the target itself."""
    key = f"{day_prefix(day)}/legal-hold.json"
    if release:
        target.delete(key)
        return
    body = {"motivo": reason, "em": datetime.now(UTC).isoformat()}
    target.put(key, json.dumps(body, ensure_ascii=False).encode())


def target_days(target: BackupTarget) -> list[BackupDay]:
    """Every day in the target with whether it completed (has a catalogue) and its hold."""
    files: dict[str, set[str]] = {}
    for key in target.keys("days/"):
        parts = key.split("/", 2)
        if len(parts) == 3:
            files.setdefault(parts[1], set()).add(parts[2])
    return [
        BackupDay(
            date.fromisoformat(d), ok="catalogo.json" in names, hold="legal-hold.json" in names
        )
        for d, names in sorted(files.items())
    ]


def prune(
    sessions: sessionmaker[Session],
    target: BackupTarget,
    *,
    today: date,
    policy: Policy,
    actor: str = "sistema:backup",
    dry_run: bool = False,
) -> dict[str, Any]:
    """Remove the days the policy does not keep and the objects no kept manifest references."""
    with backup_lock(sessions):
        days = target_days(target)
        keep = retained_days(days, today, policy)
        drop = sorted(d.day.isoformat() for d in days if d.day not in keep)
        referenced: set[str] = set()
        for d in sorted(keep):
            key = f"{day_prefix(d.isoformat())}/manifest.json"
            if not target.exists(key):
                continue
            manifest = json.loads(target.get(key))
            referenced |= {
                object_key(o["sha256"]) for o in manifest["objetos"].values() if "zip_id" not in o
            }
        orphans = [k for k in target.keys("objects/") if k not in referenced]
        if not dry_run:
            for gone in drop:
                for key in list(target.keys(f"{day_prefix(gone)}/")):
                    target.delete(key)
            for key in orphans:
                target.delete(key)
        summary: dict[str, Any] = {
            "mantidos": sorted(d.isoformat() for d in keep),
            "removidos": drop,
            "objetos_removidos": len(orphans),
            "simulacao": dry_run,
        }
        if not dry_run:
            with sessions.begin() as s:
                for run in s.scalars(
                    select(BackupRun).where(BackupRun.details["dia"].as_string().in_(drop))
                ):
                    run.details = {**run.details, "expurgado_em": datetime.now(UTC).isoformat()}
                audit.record(
                    s,
                    actor=actor,
                    action="backup_expurgado",
                    entity="backup",
                    reason=f"retenção: {policy.keep_daily} dias / {policy.keep_monthly_years} anos",
                    details=summary,
                )
    return summary
