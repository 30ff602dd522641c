"""Backups on MySQL/MariaDB (DB_CONNECTION=mysql): mariadb-dump in the daily backup, the drill,
and the restore by date with the mariadb client (restore by empresa/module is covered by
test_backup_restore.py, which runs on both). Runs when the suite runs on MySQL
(``CONTAB_TEST_DB=mysql``); the PostgreSQL path has its own tests (test_backup*.py)."""

from __future__ import annotations

import gzip
import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import text

from app.backup import mytools, run_backup
from app.backup.restore import restore_date
from app.backup.target import BackupTarget, object_key
from app.backup.verify import verify_backup
from app.db import get_engine, get_sessionmaker
from app.errors import IntegrationError
from app.settings import get_settings
from app.storage.local import LocalStorage
from tests.services.backup_support import CNPJS, data_storage, seed

pytestmark = pytest.mark.skipif(
    not get_settings().is_mysql, reason="MySQL/MariaDB only (CONTAB_TEST_DB=mysql)"
)
DAY = date(2026, 11, 28)


def _target(tmp: Path) -> BackupTarget:
    return BackupTarget(LocalStorage(tmp / "backup", secret="k", base_url="http://x"))


def test_backup_drill_and_restore_by_date_on_mariadb(clean_db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = data_storage(tmp_path)
    seed(data)
    cfg, sessions, target = get_settings(), get_sessionmaker(), _target(tmp_path)
    q = "SELECT cnpj, razao_social, characteristics FROM empresas ORDER BY cnpj"
    with mytools.connect(cfg) as live, live.cursor() as cur:
        source = mytools.row_counts(live)  # before the backup, drill and restore audit themselves
        cur.execute(q)
        empresas = cur.fetchall()
    done = run_backup(sessions, data, cfg, today=DAY, target=target)
    assert done["status"] == "concluido" and done["files"] == 15 and done["copied"] == 15
    dump = target.get("days/2026-11-28/db.dump").decode()
    assert "CREATE TABLE `empresas`" in dump and "INSERT INTO `guides`" in dump
    catalogue = json.loads(target.get("days/2026-11-28/catalogo.json"))
    # counts and manifest were read in the dump's own snapshot (root has RELOAD)
    assert catalogue["instantaneo_unico"] is True and catalogue["tabelas"]["guides"] == 3
    manifest = json.loads(target.get("days/2026-11-28/manifest.json"))
    for key, o in manifest["objetos"].items():
        if "zip_id" not in o:
            assert target.get(object_key(o["sha256"])) == data.get(key)
    protocol = gzip.decompress(target.get("days/2026-11-28/logs/protocolo_guias.jsonl.gz"))
    lines = [json.loads(ln) for ln in protocol.decode().splitlines()]
    assert len(lines) == 3 and lines[0]["kind"] == "enviada"
    assert isinstance(lines[0]["details"], dict) and lines[0]["at"].endswith("+00:00")
    again = run_backup(sessions, data, cfg, today=DAY, target=target)
    assert again["status"] == "ja_existente"  # the day's run is found by details->dia

    drill = verify_backup(sessions, cfg, target, sample=100)
    assert drill["ok"] and drill["tabelas"]["guides"] == {"catalogo": 3, "restaurado": 3}

    name = "contab_restore_mysql_test"
    mytools.drop_database(cfg, name)
    try:
        out = restore_date(sessions, cfg, target, data, day="2026-11-28", database=name)
        assert out["banco"] == name
        with mytools.connect(cfg, name) as restored, restored.cursor() as cur:
            copy = mytools.row_counts(restored)
            cur.execute(q)
            assert cur.fetchall() == empresas
        source.pop("backup_runs"), copy.pop("backup_runs")  # the run's own row is in the dump
        assert copy == source and copy["empresas"] == len(CNPJS)
        with pytest.raises(IntegrationError) as exc:  # never over an existing database
            restore_date(sessions, cfg, target, data, day="2026-11-28", database=name)
        assert exc.value.code == "restauracao_banco_existe"
    finally:
        mytools.drop_database(cfg, name)
    with get_engine().connect() as conn:
        assert conn.scalar(text("SELECT DATABASE()")) == cfg.DB_DATABASE
