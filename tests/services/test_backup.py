"""backup-diario: a restorable dump and a files manifest in storage, once per day."""

from __future__ import annotations

import json
import subprocess
from datetime import date
from pathlib import Path

from sqlalchemy import select

from app.db import get_sessionmaker, session_scope
from app.platform.backup import pg_dump_binary, run_backup
from app.settings import get_settings
from app.storage.local import LocalStorage
from models import BackupRun, Empresa, StoredFile


def test_backup_is_restorable_and_once_per_day(clean_db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with session_scope() as s:
        e = Empresa(
            cnpj="11222333000181",
            razao_social="Backup Ltda",
            regime="SIMPLES",
            uf="SP",
            ibge_code="3550308",
        )
        s.add(e)
        s.flush()
        s.add(
            StoredFile(
                empresa_id=e.id,
                sha256="a" * 64,
                size=3,
                content_type="text/plain",
                original_name="a.txt",
                storage_key="uploads/x/a",
            )
        )
    storage = LocalStorage(tmp_path / "st", secret="k", base_url="http://x")
    day = date(2026, 11, 28)
    summary = run_backup(get_sessionmaker(), storage, get_settings(), today=day)
    assert summary["status"] == "concluido"
    dump = storage.get(str(summary["location"]))
    (tmp_path / "db.dump").write_bytes(dump)
    listing = subprocess.run(
        [str(Path(pg_dump_binary()).with_name("pg_restore")), "--list", str(tmp_path / "db.dump")],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "TABLE DATA public empresas" in listing and "TABLE DATA public guides" in listing
    manifest = json.loads(storage.get(str(summary["manifest"])))
    assert [f["sha256"] for f in manifest["files"]] == ["a" * 64]

    again = run_backup(get_sessionmaker(), storage, get_settings(), today=day)
    assert again["status"] == "ja_existente" and again["location"] == summary["location"]
    forced = run_backup(get_sessionmaker(), storage, get_settings(), today=day, force=True)
    assert forced["status"] == "concluido"
    with session_scope() as s:
        assert [r.status for r in s.scalars(select(BackupRun).order_by(BackupRun.id))] == [
            "concluido",
            "concluido",
        ]


def test_failed_dump_is_recorded(clean_db, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import pytest

    from app.errors import IntegrationError

    bad = get_settings().model_copy(update={"DB_DATABASE": "nao_existe_xyz"})
    storage = LocalStorage(tmp_path / "st", secret="k", base_url="http://x")
    with pytest.raises(IntegrationError) as err:
        run_backup(get_sessionmaker(), storage, bad, today=date(2026, 11, 28))
    assert err.value.code == "backup_falhou"
    with session_scope() as s:
        row = s.scalar(select(BackupRun))
        assert (
            row is not None and row.status == "falhou" and "nao_existe_xyz" in row.details["erro"]
        )
