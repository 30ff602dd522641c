"""Run Alembic migrations programmatically (the deploy step; DEV runs it automatically)."""

from __future__ import annotations

import hashlib
import io
from contextlib import redirect_stdout
from pathlib import Path

from alembic import command
from alembic.config import Config

from app.settings import PROJECT_ROOT, get_settings

__all__ = [
    "MANIFEST",
    "alembic_config",
    "append_new_to_manifest",
    "current",
    "read_manifest",
    "revision_files",
    "upgrade",
    "upgrade_sql",
    "verify_manifest",
]


def alembic_config(url: str | None = None) -> Config:
    """Alembic config pointing at migrations/ and the configured database."""
    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", (url or get_settings().database_url).replace("%", "%%"))
    return cfg


def upgrade(url: str | None = None, revision: str = "heads") -> None:
    """Apply migrations up to revision."""
    command.upgrade(alembic_config(url), revision)


def upgrade_sql(url: str | None = None, start: str | None = None) -> str:
    """The SQL `upgrade` would run (offline mode), for the manual production gate."""
    buf = io.StringIO()
    cfg = alembic_config(url)
    cfg.output_buffer = buf
    with redirect_stdout(buf):
        command.upgrade(cfg, f"{start}:head" if start else "head", sql=True)
    return buf.getvalue()


def current(url: str | None = None) -> str | None:
    """The revision the database is at (None when unmigrated)."""
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine

    engine = create_engine(url or get_settings().database_url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


MANIFEST = PROJECT_ROOT / "migrations" / "checksums.sha256"


def revision_files(versions_dir: Path | None = None) -> dict[str, str]:
    """File name → sha256 of every revision file."""
    d = versions_dir or PROJECT_ROOT / "migrations" / "versions"
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.glob("*.py"))}


def read_manifest(path: Path = MANIFEST) -> dict[str, str]:
    """The committed checksums (``<sha256>  <file>`` lines)."""
    out = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            digest, name = line.split(maxsplit=1)
            out[name.strip()] = digest
    return out


def verify_manifest(files: dict[str, str], manifest: dict[str, str]) -> list[str]:
    """Problems: an applied revision edited or deleted, or a new one not yet recorded."""
    problems = []
    for name, digest in manifest.items():
        if name not in files:
            problems.append(f"revisão aplicada removida: {name}")
        elif files[name] != digest:
            problems.append(f"revisão aplicada foi editada: {name}")
    for name in files.keys() - manifest.keys():
        problems.append(
            f"revisão nova sem checksum registrado: {name} (rode `make migration-manifest`)"
        )
    return problems


def append_new_to_manifest(path: Path = MANIFEST) -> list[str]:
    """Record checksums of new revision files; never rewrites an existing line."""
    known = read_manifest(path) if path.exists() else {}
    new = {n: d for n, d in revision_files().items() if n not in known}
    with path.open("a") as fh:
        for name, digest in sorted(new.items()):
            fh.write(f"{digest}  {name}\n")
    return sorted(new)
