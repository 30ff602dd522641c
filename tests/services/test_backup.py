"""backup-diario: database, objects and logs to a separate target; incremental; one at a time."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import threading
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select, text

from app.backup import pg_dump_binary, run_backup
from app.backup.run import backup_lock
from app.backup.target import BackupTarget, object_key
from app.db import get_engine, get_sessionmaker, session_scope
from app.errors import IntegrationError, StorageError
from app.settings import Settings, get_settings
from app.storage.local import LocalStorage
from app.storage.s3 import S3Storage
from models import BackupRun, StoredFile
from tests.services.backup_support import CNPJS, data_storage, s3_fixture, s3_target, seed  # noqa: F401

DAY = date(2026, 11, 28)


def local_target(tmp: Path, key: str = "") -> BackupTarget:
    return BackupTarget(
        LocalStorage(tmp / "backup", secret="k", base_url="http://x"), encryption_key=key
    )


def test_backup_to_s3_is_restorable_complete_and_incremental(clean_db, s3, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = data_storage(tmp_path)
    seed(data)
    target = s3_target(s3)
    first = run_backup(get_sessionmaker(), data, get_settings(), today=DAY, target=target)
    assert first["status"] == "concluido" and first["files"] == 15 and first["copied"] == 15
    (tmp_path / "db.dump").write_bytes(target.get("days/2026-11-28/db.dump"))
    listing = subprocess.run(
        [pg_dump_binary("pg_restore"), "--list", str(tmp_path / "db.dump")],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "TABLE DATA public empresas" in listing and "TABLE DATA public guides" in listing
    manifest = json.loads(target.get("days/2026-11-28/manifest.json"))
    with session_scope() as s:
        files = list(s.scalars(select(StoredFile)))
    assert {k: v["sha256"] for k, v in manifest["objetos"].items()} == {
        f.storage_key: f.sha256 for f in files
    }
    for f in files:  # every object copied, byte-identical, content-addressed
        assert target.get(object_key(f.sha256)) == data.get(f.storage_key)
    audit = gzip.decompress(target.get("days/2026-11-28/logs/protocolo_guias.jsonl.gz")).decode()
    assert audit.count("\n") == 3 and '"kind": "enviada"' in audit
    with session_scope() as s:
        run = s.scalar(select(BackupRun).where(BackupRun.status == "concluido"))
        assert run is not None
        cat = run.details
    assert cat["tabelas"]["empresas"] == 3 and cat["dump"]["sha256"] and cat["duracao_s"] >= 0
    assert cat["execucoes_prefect"]["disponivel"] in (True, False)
    assert target.days() == ["2026-11-28"]

    again = run_backup(get_sessionmaker(), data, get_settings(), today=DAY, target=target)
    assert again["status"] == "ja_existente"
    next_day = run_backup(
        get_sessionmaker(), data, get_settings(), today=date(2026, 11, 29), target=target
    )
    assert next_day["status"] == "concluido" and next_day["copied"] == 0 and next_day["files"] == 15
    assert target.days() == ["2026-11-28", "2026-11-29"]


def test_target_down_fails_visibly_and_leaves_data_untouched(clean_db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from app.localservices import free_port

    data = data_storage(tmp_path)
    seed(data)
    before = sorted(p.relative_to(data.root) for p in data.root.rglob("*"))
    down = BackupTarget(S3Storage(bucket="b", access_key="a", secret_key="s", region="us-east-1",
                                  endpoint=f"http://127.0.0.1:{free_port()}", timeout=0.5))  # fmt: skip
    with pytest.raises(StorageError):
        run_backup(get_sessionmaker(), data, get_settings(), today=DAY, target=down)
    with session_scope() as s:
        row = s.scalar(select(BackupRun))
        assert row is not None and row.status == "falhou" and "S3" in row.details["erro"]
    assert sorted(p.relative_to(data.root) for p in data.root.rglob("*")) == before


def test_failed_dump_is_recorded(clean_db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = get_settings().model_copy(update={"DB_DATABASE": "nao_existe_xyz"})
    with pytest.raises(IntegrationError) as err:
        run_backup(
            get_sessionmaker(),
            data_storage(tmp_path),
            bad,
            today=DAY,
            target=local_target(tmp_path),
        )
    assert err.value.code == "backup_falhou"
    with session_scope() as s:
        row = s.scalar(select(BackupRun))
        assert (
            row is not None and row.status == "falhou" and "nao_existe_xyz" in row.details["erro"]
        )


def test_second_backup_waits_for_the_first(clean_db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data, target = data_storage(tmp_path), local_target(tmp_path)
    result: dict[str, object] = {}
    with backup_lock(get_sessionmaker()):
        worker = threading.Thread(
            target=lambda: result.update(
                run_backup(get_sessionmaker(), data, get_settings(), today=DAY, target=target)
            )
        )
        worker.start()
        waiting = 0
        while waiting == 0 and worker.is_alive():  # the second backup blocks on the advisory lock
            with get_engine().connect() as conn:
                waiting = conn.scalar(text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                )) or 0  # fmt: skip
        assert waiting == 1 and not result
    worker.join(timeout=120)
    assert result["status"] == "concluido"


def test_encrypted_target_seals_objects_and_refuses_tampering(clean_db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = data_storage(tmp_path)
    seed(data)
    target = local_target(tmp_path, key="k" * 40)
    run_backup(get_sessionmaker(), data, get_settings(), today=DAY, target=target)
    manifest = json.loads(target.get("days/2026-11-28/manifest.json"))
    raw = target.storage.get("days/2026-11-28/manifest.json")
    assert b"storage_key" not in raw and CNPJS[0].encode() not in raw and manifest["objetos"]
    key = object_key(next(iter(manifest["objetos"].values()))["sha256"])
    sealed = bytearray(target.storage.get(key))
    sealed[-1] ^= 1
    target.storage.put(key, bytes(sealed))
    with pytest.raises(StorageError) as err:
        target.get(key)
    assert err.value.code == "backup_corrompido"


def _settings(**env: str) -> Settings:
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k in Settings.model_fields}
    try:
        return Settings(_env_file=None, **env)  # type: ignore[call-arg, arg-type]
    finally:
        os.environ.update(saved)


def test_production_refuses_a_backup_target_that_is_not_separate_and_encrypted() -> None:
    from tests.app.test_settings import SAFE_PRODUCTION

    assert _settings(**SAFE_PRODUCTION).problems() == []
    local = _settings(**{**SAFE_PRODUCTION, "BACKUP_DISK": "local"}).problems()
    assert any("BACKUP_DISK" in p for p in local)
    same = _settings(
        **{**SAFE_PRODUCTION, "BACKUP_S3_BUCKET": SAFE_PRODUCTION["S3_BUCKET"]}
    ).problems()
    assert any("diferente de S3_BUCKET" in p for p in same)
    plain = _settings(**{**SAFE_PRODUCTION, "BACKUP_S3_SSE": ""}).problems()
    assert any("criptografia" in p for p in plain)
    client_side = {**SAFE_PRODUCTION, "BACKUP_S3_SSE": "", "BACKUP_ENCRYPTION_KEY": "x" * 40}
    assert _settings(**client_side).problems() == []


def test_contab_check_refuses_production_without_a_separate_target(monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    from app.cli import main
    from tests.app.test_settings import SAFE_PRODUCTION

    for k, v in {**SAFE_PRODUCTION, "BACKUP_DISK": "local"}.items():
        monkeypatch.setenv(k, v)
    assert main(["check"]) == 2
    assert "BACKUP_DISK deve ser 's3'" in capsys.readouterr().err


def test_missing_or_damaged_live_files_are_listed_not_backed_up(clean_db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = data_storage(tmp_path)
    seed(data)
    with session_scope() as s:
        gone, damaged = list(s.scalars(select(StoredFile).order_by(StoredFile.id).limit(2)))
    data.delete(gone.storage_key)
    data.put(damaged.storage_key, b"estragado")
    target = local_target(tmp_path)
    result = run_backup(get_sessionmaker(), data, get_settings(), today=DAY, target=target)
    assert result["status"] == "concluido" and result["copied"] == 13
    with session_scope() as s:
        run = s.scalar(select(BackupRun).where(BackupRun.status == "concluido"))
        assert run is not None
        assert run.details["objetos"]["ausentes_no_armazenamento"] == [gone.storage_key]
        assert run.details["objetos"]["divergentes_no_armazenamento"] == [damaged.storage_key]
    assert not target.exists(object_key(damaged.sha256))
