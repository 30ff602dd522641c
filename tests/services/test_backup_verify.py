"""verificar-backup: a restore drill that passes on a good backup and fails loudly on a tampered
one (the office admins are alerted); the age of the last good backup for monitoring."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from app.backup import run_backup
from app.backup.target import object_key
from app.backup.verify import backup_status, last_good_backup, verify_backup
from app.cli import main
from app.db import get_sessionmaker, session_scope
from app.settings import get_settings
from models import Notification, Staff
from tests.services.backup_support import data_storage, s3_fixture, s3_target, seed  # noqa: F401


def test_drill_passes_then_fails_loudly_on_a_tampered_backup(clean_db, s3, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = data_storage(tmp_path)
    seed(data)
    with session_scope() as s:
        s.add(Staff(name="Admin", email="admin@escritorio.com.br", is_admin=True))
    sessions, cfg, target = get_sessionmaker(), get_settings(), s3_target(s3)
    run_backup(sessions, data, cfg, today=date(2026, 11, 28), target=target)

    good = verify_backup(sessions, cfg, target, sample=100)
    assert (
        good["ok"]
        and good["amostra"] == 15
        and good["tabelas"]["guides"] == {"catalogo": 3, "restaurado": 3}
    )
    with session_scope() as s:
        run = last_good_backup(s)
        assert run is not None and run.details["verificacao"]["ok"] is True
        status = backup_status(s, now=datetime.now(UTC) + timedelta(hours=5))
        assert (
            status["ultimo_bom"]["dia"] == "2026-11-28" and status["ultimo_bom"]["idade_horas"] >= 5
        )

    manifest = json.loads(target.get("days/2026-11-28/manifest.json"))
    victim = object_key(next(iter(manifest["objetos"].values()))["sha256"])
    target.put(victim, b"adulterado")
    bad = verify_backup(sessions, cfg, target, sample=100)
    assert not bad["ok"] and any(victim in p for p in bad["problemas"])
    with session_scope() as s:
        alerts = list(
            s.scalars(select(Notification).where(Notification.template == "falha_backup"))
        )
        assert [n.recipient for n in alerts] == ["admin@escritorio.com.br"]
        assert alerts[0].context["dia"] == "2026-11-28"
        assert last_good_backup(s) is None  # its drill failed: no good backup to count on

    # a catalogue that no longer matches the dump (row counts) fails too
    cat = json.loads(target.get("days/2026-11-28/catalogo.json"))
    target.put(
        victim,
        data.get(
            next(k for k, o in manifest["objetos"].items() if object_key(o["sha256"]) == victim)
        ),
    )
    cat["tabelas"]["guides"] = 4
    target.put("days/2026-11-28/catalogo.json", json.dumps(cat).encode())
    counted = verify_backup(sessions, cfg, target, sample=100)
    assert not counted["ok"] and counted["problemas"] == [
        "tabela guides: 3 linhas restauradas, 4 no catálogo"
    ]
    dump = bytearray(target.get("days/2026-11-28/db.dump"))
    dump[len(dump) // 2] ^= 0xFF
    target.put("days/2026-11-28/db.dump", bytes(dump))
    broken = verify_backup(sessions, cfg, target)
    assert not broken["ok"] and "backup_corrompido" in broken["problemas"][0]


def test_backup_status_command_without_backups_exits_non_zero(clean_db, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["backup-status"]) == 1
    assert json.loads(capsys.readouterr().out)["ultimo_bom"] is None
