"""Daily backup (guide §11): database, stored files and essential logs, to a separate target.

One consistent picture: a ``REPEATABLE READ`` transaction exports its snapshot; ``pg_dump
--snapshot`` dumps exactly that, and the row counts and the files manifest are read in it too.
Stored files are copied content-addressed (``objects/<sha256[:2]>/<sha256>``): an object already
in the target is never copied again, so a day costs only what changed. Each day's manifest maps
every storage key to its sha256, size and empresa, so any retained day restores from it alone.

Two backups never run at once (a PostgreSQL advisory lock, GET_LOCK on MySQL: the second
waits). On MySQL/MariaDB the dump is mariadb-dump/mysqldump (:mod:`app.backup.mytools`).
The target is checked before anything is dumped; when it is down the run fails (and Prefect
retries it) with the data side untouched. One successful backup per day: a re-run does
nothing unless forced.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.backup import mytools, pgtools
from app.backup.logs import export_logs, export_logs_mysql, flow_run_summary
from app.backup.target import BackupTarget, day_prefix, object_key
from app.errors import StorageError
from app.settings import Settings
from app.sqlcompat import advisory_lock
from app.storage.base import Storage
from models import BackupRun

__all__ = ["BACKUP_LOCK_KEY", "backup_lock", "run_backup", "successful_run"]

# pg_advisory_lock key of "a backup or a prune is running" (any constant bigint).
BACKUP_LOCK_KEY = 0x636F6E746162  # "contab"

_FILES_SQL = (
    "SELECT id, storage_key, sha256, size, empresa_id, container_id, member_name "
    "FROM stored_files WHERE deleted_at IS NULL ORDER BY id"
)


@contextmanager
def backup_lock(sessions: sessionmaker[Session]) -> Iterator[None]:
    """Hold the backup advisory lock (waits while another backup or prune holds it);
    ``GET_LOCK`` on MySQL/MariaDB."""
    engine = sessions.kw["bind"]
    with engine.connect() as conn:  # one connection for the whole hold: the lock is per session
        with advisory_lock(conn, BACKUP_LOCK_KEY):
            conn.commit()
            yield


def successful_run(session: Session, day: str) -> BackupRun | None:
    """The latest successful backup of day (``YYYY-MM-DD``), if any."""
    return session.scalar(
        select(BackupRun)
        .where(BackupRun.status == "concluido", BackupRun.details["dia"].as_string() == day)
        .order_by(BackupRun.id.desc())
        .limit(1)
    )


# Objects are small (XML, PDF): the copy is bound by round-trips, so several run at once
# (boto3 clients are thread-safe; the local backend writes through temp files + rename).
COPY_THREADS = 8


def _copy_one(
    copies: list[dict[str, Any]], data: Storage, target: BackupTarget
) -> tuple[int | None, list[tuple[str, str]]]:
    """Copy one content from the first of its stored copies that is intact; returns the bytes
    copied (None when no copy was intact) and the (problem, storage key) of the bad copies."""
    problems: list[tuple[str, str]] = []
    for f in copies:
        try:
            content = data.get(f["storage_key"])
        except StorageError as exc:
            if exc.code != "arquivo_nao_encontrado":
                raise
            problems.append(("ausentes", f["storage_key"]))
            continue
        if hashlib.sha256(content).hexdigest() != f["sha256"]:
            # the live copy is damaged: never back it up as if it were good
            problems.append(("divergentes", f["storage_key"]))
            continue
        target.put(object_key(f["sha256"]), content)
        return len(content), problems
    return None, problems


def _copy_objects(
    files: list[dict[str, Any]], data: Storage, target: BackupTarget
) -> dict[str, Any]:
    """Copy every object not yet in the target; verify each one's sha256 on the way."""
    present = set(target.keys("objects/"))
    pending: dict[str, list[dict[str, Any]]] = {}
    for f in files:
        key = object_key(f["sha256"])
        # a zip member's bytes are in the zip's object; equal contents are copied once
        if f["container_id"] is None and key not in present:
            pending.setdefault(key, []).append(f)
    out: dict[str, Any] = {
        "copiados": 0,
        "bytes_copiados": 0,
        "ausentes_no_armazenamento": [],
        "divergentes_no_armazenamento": [],
    }
    with ThreadPoolExecutor(max_workers=COPY_THREADS) as pool:
        for size, problems in pool.map(lambda c: _copy_one(c, data, target), pending.values()):
            if size is not None:
                out["copiados"] += 1
                out["bytes_copiados"] += size
            for kind, storage_key in problems:
                out[f"{kind}_no_armazenamento"].append(storage_key)
    return out


def _manifest(day: str, files: list[dict[str, Any]]) -> dict[str, Any]:
    objects = {
        f["storage_key"]: {
            "sha256": f["sha256"],
            "size": int(f["size"]),
            "empresa_id": f["empresa_id"],
            "id": f["id"],
            **(
                {"zip_id": f["container_id"], "member": f["member_name"]}
                if f["container_id"]
                else {}
            ),
        }
        for f in files
    }
    return {"dia": day, "gerado_em": datetime.now(UTC).isoformat(), "objetos": objects}


def _write_day(
    settings: Settings, data: Storage, target: BackupTarget, day: str, timeout: float
) -> dict[str, Any]:
    """Dump, copy objects, manifest and logs of one day into the target; the catalogue entry."""
    prefix = day_prefix(day)
    started = time.monotonic()
    if settings.is_mysql:
        return _write_day_mysql(settings, data, target, day, timeout)
    with pgtools.connect(settings) as snap:
        snap.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        snap.read_only = True
        row = snap.execute("SELECT pg_export_snapshot()").fetchone()
        snapshot = str(row[0]) if row else None
        counts = pgtools.row_counts(snap)
        with snap.cursor(row_factory=dict_row) as cur:
            files = list(cur.execute(_FILES_SQL))
        with tempfile.TemporaryDirectory() as tmp:
            dump_path = Path(tmp) / "db.dump"
            pgtools.dump(settings, dump_path, snapshot=snapshot, timeout=timeout)
            dump_bytes = dump_path.read_bytes()
        logs = export_logs(snap, target, prefix)
    return _finish_day(
        target, data, day, started, dump_bytes, files, counts, logs,
        flow_run_summary(settings.PREFECT_API_URL),
    )  # fmt: skip


def _write_day_mysql(
    settings: Settings, data: Storage, target: BackupTarget, day: str, timeout: float
) -> dict[str, Any]:
    """:func:`_write_day` on MySQL/MariaDB: mariadb-dump, and the counts, manifest and logs
    read in the same snapshot (:mod:`app.backup.mytools`)."""
    prefix = day_prefix(day)
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        dump_path = Path(tmp) / "db.sql"
        with mytools.dump_consistent(settings, dump_path, timeout=timeout) as (snap, same):
            counts = mytools.row_counts(snap)
            with snap.cursor() as cur:
                cur.execute(_FILES_SQL)
                files = list(cur.fetchall())
            logs = export_logs_mysql(snap, target, prefix)
        dump_bytes = dump_path.read_bytes()
    return _finish_day(
        target, data, day, started, dump_bytes, files, counts, logs,
        flow_run_summary(settings.PREFECT_API_URL), extra={"instantaneo_unico": same},
    )  # fmt: skip


def _finish_day(
    target: BackupTarget,
    data: Storage,
    day: str,
    started: float,
    dump_bytes: bytes,
    files: list[dict[str, Any]],
    counts: dict[str, int],
    logs: dict[str, Any],
    flow_runs: Any,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    prefix = day_prefix(day)
    target.put(f"{prefix}/db.dump", dump_bytes)
    objects = _copy_objects(files, data, target)
    manifest = json.dumps(_manifest(day, files), ensure_ascii=False).encode()
    target.put(f"{prefix}/manifest.json", manifest)
    details: dict[str, Any] = {
        "dia": day,
        "destino": target.name,
        "cifrado": target.encrypted,
        "dump": {
            "chave": f"{prefix}/db.dump",
            "bytes": len(dump_bytes),
            "sha256": hashlib.sha256(dump_bytes).hexdigest(),
        },
        "manifesto": {
            "chave": f"{prefix}/manifest.json",
            "bytes": len(manifest),
            "sha256": hashlib.sha256(manifest).hexdigest(),
            "objetos": len(files),
            "bytes_objetos": sum(int(f["size"]) for f in files if f["container_id"] is None),
        },
        "objetos": objects,
        "tabelas": counts,
        "logs": logs,
        "execucoes_prefect": flow_runs,
        **(extra or {}),
    }
    details["duracao_s"] = round(time.monotonic() - started, 3)
    target.put(f"{prefix}/catalogo.json", json.dumps(details, ensure_ascii=False).encode())
    return details


def run_backup(
    sessions: sessionmaker[Session],
    storage: Storage,
    settings: Settings,
    *,
    today: date,
    target: BackupTarget | None = None,
    force: bool = False,
    timeout: float = 3600,
) -> dict[str, Any]:
    """Back up database, objects and logs of today into the target; returns the summary."""
    if target is None:
        from app.backup.target import get_backup_target

        target = get_backup_target(settings)
    day = today.isoformat()
    with backup_lock(sessions):
        with sessions.begin() as s:
            done = successful_run(s, day)
            if done is not None and not force:
                return {
                    "status": "ja_existente",
                    "location": done.location,
                    "id": done.id,
                    "dia": day,
                }
            run = BackupRun(status="em_andamento", details={"dia": day})
            s.add(run)
            s.flush()
            run_id = run.id
        try:
            target.ping()
            details = _write_day(settings, storage, target, day, timeout)
        except Exception as exc:
            with sessions.begin() as s:
                row = s.get(BackupRun, run_id)
                assert row is not None
                row.status, row.finished_at = "falhou", datetime.now(UTC)
                row.details = {"dia": day, "erro": str(exc)[:500]}
            raise
        with sessions.begin() as s:
            row = s.get(BackupRun, run_id)
            assert row is not None
            row.status, row.finished_at = "concluido", datetime.now(UTC)
            row.location = details["dump"]["chave"]
            row.size_bytes = details["dump"]["bytes"] + details["objetos"]["bytes_copiados"]
            row.details = details
    return {
        "status": "concluido",
        "id": run_id,
        "dia": day,
        "location": details["dump"]["chave"],
        "manifest": details["manifesto"]["chave"],
        "size_bytes": details["dump"]["bytes"],
        "files": details["manifesto"]["objetos"],
        "copied": details["objetos"]["copiados"],
        "copied_bytes": details["objetos"]["bytes_copiados"],
        "duracao_s": details["duracao_s"],
    }
