"""Restore by date: the whole database into a NEW database, plus the storage as of that day.

The live database is never written unless ``force_live`` is given (then ``pg_restore --clean``
over it, for a disaster where the live one is lost anyway). Objects come from the day's
manifest: each one missing from the data storage, or different there, is fetched from the
target, its sha256 checked, written and read back. A corrupted backup object is refused and
named, the rest is restored, and the result says so (the CLI exits non-zero).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from app.backup import mytools, pgtools
from app.backup.target import BackupTarget, day_prefix, object_key
from app.errors import IntegrationError, NotFound, StorageError
from app.platform import audit
from app.settings import Settings
from app.storage.base import Storage

__all__ = [
    "Progress",
    "fetch_dump",
    "load_manifest",
    "resolve_day",
    "restore_date",
    "restore_objects",
]

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


def resolve_day(target: BackupTarget, day: str | date | None) -> str:
    """The requested day (the latest when None); NotFound listing the available days."""
    days = [d for d in target.days() if target.exists(f"{day_prefix(d)}/catalogo.json")]
    if not days:
        raise NotFound("Não há nenhum backup concluído no destino.", code="backup_inexistente")
    if day is None:
        return days[-1]
    wanted = day.isoformat() if isinstance(day, date) else str(day)
    if wanted not in days:
        raise NotFound(
            f"Não há backup de {wanted}. Datas disponíveis: {', '.join(days)}",
            code="backup_inexistente",
            disponiveis=days,
        )
    return wanted


def load_manifest(target: BackupTarget, day: str) -> dict[str, dict[str, Any]]:
    """The day's objects: storage key → sha256, size, empresa_id, id (and zip_id/member)."""
    objects: dict[str, dict[str, Any]] = json.loads(target.get(f"{day_prefix(day)}/manifest.json"))[
        "objetos"
    ]
    return objects


def catalogue(target: BackupTarget, day: str) -> dict[str, Any]:
    """The catalogue the backup wrote next to its files."""
    data: dict[str, Any] = json.loads(target.get(f"{day_prefix(day)}/catalogo.json"))
    return data


def fetch_dump(target: BackupTarget, day: str, into: Path) -> Path:
    """Download the day's dump, checking its sha256 against the catalogue."""
    data = target.get(f"{day_prefix(day)}/db.dump")
    expected = catalogue(target, day)["dump"]["sha256"]
    if hashlib.sha256(data).hexdigest() != expected:
        raise StorageError(
            f"Dump de {day} corrompido (sha256 diferente do catálogo): {day_prefix(day)}/db.dump",
            code="backup_corrompido",
        )
    path = into / f"{day}.dump"
    path.write_bytes(data)
    return path


def _live_sha(data: Storage, key: str) -> str | None:
    try:
        return hashlib.sha256(data.get(key)).hexdigest()
    except StorageError as exc:
        if exc.code == "arquivo_nao_encontrado":
            return None
        raise


def _restore_one(key: str, sha: str, target: BackupTarget, data: Storage, dry_run: bool) -> str:
    """'igual' | 'a_restaurar' (dry run) | 'restaurado' | an error code (corrupted backup)."""
    if _live_sha(data, key) == sha:
        return "igual"
    try:
        content = target.get(object_key(sha))
    except StorageError as exc:
        return exc.code
    if hashlib.sha256(content).hexdigest() != sha:
        return "sha256"
    if dry_run:
        return "a_restaurar"
    data.put(key, content)
    if _live_sha(data, key) != sha:  # read back: what was restored is what was backed up
        raise StorageError(f"Verificação falhou após gravar {key}", code="restauracao_falhou")
    return "restaurado"


def restore_objects(
    entries: Iterable[tuple[str, str]],
    target: BackupTarget,
    data: Storage,
    *,
    dry_run: bool = False,
    progress: Progress = _quiet,
) -> dict[str, Any]:
    """Put back every (storage key, sha256) missing or different in the data storage."""
    items = sorted(set(entries))
    out: dict[str, Any] = {"restaurados": 0, "iguais": 0, "a_restaurar": [], "corrompidos": []}
    with ThreadPoolExecutor(max_workers=8) as pool:  # bound by round-trips, like the backup
        results = pool.map(lambda it: _restore_one(it[0], it[1], target, data, dry_run), items)
        for n, ((key, sha), result) in enumerate(zip(items, results, strict=True), 1):
            if result == "igual":
                out["iguais"] += 1
            elif result == "restaurado":
                out["restaurados"] += 1
            elif result == "a_restaurar":
                out["a_restaurar"].append(key)
            else:
                out["corrompidos"].append({"chave": key, "objeto": object_key(sha), "erro": result})
            if n % 1000 == 0 or n == len(items):
                progress(f"arquivos: {n}/{len(items)}")
    return out


def switch_over_steps(settings: Settings, database: str) -> list[str]:
    """What an operator does to run the platform on the restored database."""
    return [
        f"1. Confira os dados em {database} (contagens, últimas guias e documentos).",
        "2. Pause os workers: contab workers pause",
        "3. Pare a API e os workers (docs/deploy.md).",
        f"4. Aponte DB_DATABASE={database} no .env/segredos "
        f"(o banco antigo, {settings.DB_DATABASE}, fica intacto para análise).",
        "5. Rode contab migrate (o backup pode ser de uma versão anterior do esquema).",
        "6. Suba a API e os workers; contab workers resume; contab smoke --url <URL>.",
    ]


def restore_date(
    sessions: sessionmaker[Session],
    settings: Settings,
    target: BackupTarget,
    data: Storage,
    *,
    day: str | date | None,
    database: str | None = None,
    force_live: bool = False,
    dry_run: bool = False,
    actor: str = "cli:restore",
    progress: Progress = _quiet,
) -> dict[str, Any]:
    """Restore day's database into a new database (or over the live one when forced) and the
    day's objects into the data storage; returns the summary with the switch-over steps."""
    wanted = resolve_day(target, day)
    name = (
        settings.DB_DATABASE
        if force_live
        else database or f"contab_restore_{wanted.replace('-', '')}"
    )
    if name == settings.DB_DATABASE and not force_live:
        raise IntegrationError(
            "Recusado: restaurar sobre o banco em uso exige --force-live",
            code="restauracao_banco_vivo",
        )
    manifest = load_manifest(target, wanted)
    entries = [(k, o["sha256"]) for k, o in manifest.items() if "zip_id" not in o]
    summary: dict[str, Any] = {"dia": wanted, "banco": name, "simulacao": dry_run}
    with tempfile.TemporaryDirectory() as tmp:
        progress(f"baixando e verificando o dump de {wanted}")
        dump_path = fetch_dump(target, wanted, Path(tmp))
        if not dry_run and settings.is_mysql:
            if not force_live:
                mytools.create_database(settings, name)
            progress(f"mariadb < dump em {name}")
            mytools.restore_into(settings, dump_path, name, clean=force_live)
        elif not dry_run:
            if not force_live:
                pgtools.create_database(settings, name)
            progress(f"pg_restore em {name}")
            pgtools.pg_restore_into(settings, dump_path, name, clean=force_live)
    progress(f"arquivos do manifesto: {len(entries)}")
    summary["arquivos"] = restore_objects(entries, target, data, dry_run=dry_run, progress=progress)
    summary["passos"] = [] if force_live else switch_over_steps(settings, name)
    with sessions.begin() as s:
        audit.record(
            s, actor=actor, action="backup_restaurado", entity="backup", entity_id=wanted,
            reason="restauração por data" + (" (simulação)" if dry_run else ""),
            details={k: v for k, v in summary.items() if k != "passos"},
        )  # fmt: skip
    return summary
