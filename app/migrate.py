"""Run Alembic migrations programmatically (the deploy step; DEV runs it automatically)."""

from __future__ import annotations

import hashlib
import io
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.ddl.mysql import MySQLImpl
from sqlalchemy import UniqueConstraint

from app.settings import PROJECT_ROOT, get_settings

__all__ = [
    "MANIFEST",
    "alembic_config",
    "append_new_to_manifest",
    "current",
    "read_manifest",
    "render_item",
    "revision_files",
    "upgrade",
    "upgrade_sql",
    "verify_manifest",
]


_mysql_fk_rules = MySQLImpl.correct_for_autogen_foreignkeys


def _mysql_correct_fks(self: MySQLImpl, conn_fks: Any, metadata_fks: Any) -> None:
    """MySQL has no deferrable constraints (models.mysql_ddl drops the clause): a model FK
    declared DEFERRABLE matches the reflected one, so autogenerate shows no diff for it."""
    _mysql_fk_rules(self, conn_fks, metadata_fks)
    by_name = {fk.name: fk for fk in metadata_fks if fk.name}
    for fk in conn_fks:
        model_fk = by_name.get(fk.name)
        if model_fk is not None:
            fk.deferrable, fk.initially = model_fk.deferrable, model_fk.initially


MySQLImpl.correct_for_autogen_foreignkeys = _mysql_correct_fks  # type: ignore[method-assign]

_mysql_drop_constraint = MySQLImpl.drop_constraint


def _mysql_drop_constraint_keeping_fk_index(self: MySQLImpl, const: Any, **kw: Any) -> None:
    """Dropping a unique key whose index a foreign key uses fails on MySQL (error 1553) — a
    downgrade written for PostgreSQL does just that. Give the foreign key its own index first
    (named after it, as MySQL names the implicit one); dropping its column drops it too."""
    if isinstance(const, UniqueConstraint) and const.name and not self.as_sql:
        _index_for_foreign_keys(self.connection, const.table.name, str(const.name))
    _mysql_drop_constraint(self, const, **kw)


def _index_for_foreign_keys(conn: Any, table: str, dropping: str) -> None:
    indexes: dict[str, list[str]] = {}
    for name, column in conn.exec_driver_sql(
        "SELECT index_name, column_name FROM information_schema.statistics"
        " WHERE table_schema = DATABASE() AND table_name = %s ORDER BY index_name, seq_in_index",
        (table,),
    ):
        indexes.setdefault(name, []).append(column)
    fks: dict[str, list[str]] = {}
    for name, column in conn.exec_driver_sql(
        "SELECT constraint_name, column_name FROM information_schema.key_column_usage"
        " WHERE table_schema = DATABASE() AND table_name = %s"
        " AND referenced_table_name IS NOT NULL ORDER BY constraint_name, ordinal_position",
        (table,),
    ):
        fks.setdefault(name, []).append(column)
    for fk, cols in fks.items():
        served = [n for n, ic in indexes.items() if ic[: len(cols)] == cols]
        if served == [dropping]:
            column_list = ", ".join(f"`{c}`" for c in cols)
            conn.exec_driver_sql(f"CREATE INDEX `{fk}` ON `{table}` ({column_list})")


MySQLImpl.drop_constraint = _mysql_drop_constraint_keeping_fk_index  # type: ignore[method-assign]


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Autogenerate writes new revisions in PostgreSQL's terms, like the applied ones: the
    dialect-aware model types render as ``sa.DateTime(timezone=True)`` and ``postgresql.JSONB``
    (models.mysql_ddl spells both for MySQL) instead of models.base names a revision would have
    to import."""
    from sqlalchemy.dialects.postgresql import JSONB

    from models.base import UtcDateTime

    if type_ != "type":
        return False
    if isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    if isinstance(obj, JSONB):  # JsonType: JSONB with a MySQL variant
        autogen_context.imports.add("from sqlalchemy.dialects import postgresql")
        return "postgresql.JSONB(astext_type=sa.Text())"
    return False


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
