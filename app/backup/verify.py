"""Restore drills (`verificar-backup`) and the age of the last good backup for monitoring.

A drill restores the latest backup into a scratch database, compares its row counts with the
catalogue written at backup time, checks the dump's and the manifest's sha256 and re-hashes a
random sample of objects. A failure alerts the office admins through the notifications outbox.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import secrets
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.backup import mytools, pgtools
from app.backup.restore import catalogue, fetch_dump, load_manifest, resolve_day
from app.backup.target import BackupTarget, day_prefix, object_key
from app.errors import AppError
from app.notifications import outbox
from app.platform import audit
from app.settings import Settings
from models import BackupRun, Staff

__all__ = ["backup_status", "last_good_backup", "verify_backup"]


def _check(target: BackupTarget, settings: Settings, day: str, sample: int) -> dict[str, Any]:
    problems: list[str] = []
    cat = catalogue(target, day)
    manifest_raw = target.get(f"{day_prefix(day)}/manifest.json")
    if hashlib.sha256(manifest_raw).hexdigest() != cat["manifesto"]["sha256"]:
        problems.append("manifesto com sha256 diferente do catálogo")
    tables: dict[str, dict[str, int | None]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        dump_path = fetch_dump(target, day, Path(tmp))
        scratch = f"contab_verifica_{os.getpid()}_{secrets.token_hex(3)}"
        if settings.is_mysql:
            with mytools.scratch_database(settings, scratch, dump_path):
                with mytools.connect(settings, scratch) as myconn:
                    restored = mytools.row_counts(myconn)
        else:
            with pgtools.scratch_database(settings, scratch, dump_path):
                with pgtools.connect(settings, scratch) as conn:
                    restored = pgtools.row_counts(conn)
    for name, expected in sorted(cat["tabelas"].items()):
        got = restored.get(name)
        tables[name] = {"catalogo": int(expected), "restaurado": got}
        if got != expected:
            problems.append(f"tabela {name}: {got} linhas restauradas, {expected} no catálogo")
    entries = [o for o in load_manifest(target, day).values() if "zip_id" not in o]
    picked = random.sample(entries, min(sample, len(entries)))  # noqa: S311 - not security
    for o in picked:
        key = object_key(o["sha256"])
        try:
            ok = hashlib.sha256(target.get(key)).hexdigest() == o["sha256"]
        except AppError:
            ok = False
        if not ok:
            problems.append(f"objeto {key} ausente ou com sha256 diferente")
    return {"tabelas": tables, "amostra": len(picked), "problemas": problems}


def _alert(session: Session, day: str, problems: list[str]) -> int:
    admins = session.scalars(select(Staff.id).where(Staff.is_admin, Staff.active))
    digest = hashlib.sha256("\n".join(problems).encode()).hexdigest()[:12]
    return outbox.enqueue(
        session,
        key=f"falha-backup:{day}:{digest}",
        recipients=outbox.staff_recipients(session, list(admins)),
        template="falha_backup",
        context={"dia": day, "problemas": problems[:20]},
    )


def verify_backup(
    sessions: sessionmaker[Session],
    settings: Settings,
    target: BackupTarget,
    *,
    day: str | None = None,
    sample: int = 50,
    alert: bool = True,
) -> dict[str, Any]:
    """Drill the latest (or the given) backup; records the result and alerts on failure."""
    started = datetime.now(UTC)
    wanted = day or ""
    try:
        wanted = resolve_day(target, day)
        result = _check(target, settings, wanted, sample)
    except AppError as exc:
        result = {"tabelas": {}, "amostra": 0, "problemas": [f"{exc.code}: {exc.message}"]}
    result.update(dia=wanted, ok=not result["problemas"], em=started.isoformat())
    with sessions.begin() as s:
        run = s.scalar(
            select(BackupRun)
            .where(BackupRun.status == "concluido", BackupRun.details["dia"].as_string() == wanted)
            .order_by(BackupRun.id.desc())
            .limit(1)
        )
        if run is not None:
            run.details = {
                **run.details,
                "verificacao": {k: result[k] for k in ("ok", "em", "problemas")},
            }
        audit.record(
            s,
            actor="sistema:verificar-backup",
            action="backup_verificado",
            entity="backup",
            entity_id=wanted or None,
            details={k: result[k] for k in ("ok", "amostra", "problemas")},
        )
        if not result["ok"] and alert:
            result["alertas"] = _alert(s, wanted or "?", result["problemas"])
    return result


def last_good_backup(session: Session) -> BackupRun | None:
    """The latest successful backup whose drill (if any) did not fail."""
    for run in session.scalars(
        select(BackupRun)
        .where(BackupRun.status == "concluido")
        .order_by(BackupRun.id.desc())
        .limit(50)
    ):
        check = run.details.get("verificacao")
        if not run.details.get("expurgado_em") and (check is None or check.get("ok")):
            return run
    return None


def backup_status(session: Session, *, now: datetime) -> dict[str, Any]:
    """Age of the last good backup and the last runs (for `contab backup-status`, monitors)."""
    good = last_good_backup(session)
    age: timedelta | None = now - good.finished_at if good and good.finished_at else None
    recent = session.scalars(select(BackupRun).order_by(BackupRun.id.desc()).limit(10))
    return {
        "ultimo_bom": None
        if good is None
        else {
            "dia": good.details.get("dia"),
            "concluido_em": good.finished_at.isoformat() if good.finished_at else None,
            "idade_horas": round(age.total_seconds() / 3600, 2) if age else None,
        },
        "recentes": [
            {
                "id": r.id,
                "dia": r.details.get("dia"),
                "status": r.status,
                "bytes": r.size_bytes,
                "copiados": (r.details.get("objetos") or {}).get("copiados"),
                "verificacao": (r.details.get("verificacao") or {}).get("ok"),
                "erro": r.details.get("erro"),
            }
            for r in recent
        ],
    }


def dumps(result: dict[str, Any]) -> str:
    """The drill result as JSON (artifacts, logs)."""
    return json.dumps(result, ensure_ascii=False, default=str)
