"""Restore by empresa / module on MySQL/MariaDB: the row merge of :mod:`app.backup.rows`.

The day's dump is loaded into a scratch database on the same server, so the merge is plain SQL
across the two databases on one connection (no COPY): each table's selected rows are copied into
a temporary table, compared with the live rows by id (``<=>``: NULL-safe, whole row), the missing
ones inserted, the differing ones reported or (``--overwrite``) replaced. MySQL has no deferred
foreign keys, so the merge runs with ``FOREIGN_KEY_CHECKS = 0`` (the rows come from one consistent
backup, restored parents first; a whole-empresa restore puts tarefas before the orders they
name, which PostgreSQL allows through its deferred key). AUTO_INCREMENT follows explicit ids by
itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pymysql

from app.backup import mytools
from app.settings import Settings

__all__ = ["merge_tables"]


def _columns(cur: Any, schema: str, table: str) -> list[str]:
    cur.execute(
        "SELECT COLUMN_NAME AS c FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s "
        "AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION",
        (schema, table),
    )
    return [str(r["c"]) for r in cur.fetchall()]


def _one(cur: Any, q: str) -> int:
    cur.execute(q)
    row = cur.fetchone()
    return int(next(iter(row.values()))) if row else 0


def _merge(
    cur: Any, live: str, table: str, where: str, cols: list[str], overwrite: bool
) -> tuple[dict[str, Any], str]:
    tmp = f"_restaura_{table}"
    ident = ", ".join(f"`{c}`" for c in cols)
    cur.execute(f"DROP TEMPORARY TABLE IF EXISTS `{tmp}`")
    # the filter reads the backup (the connection's default database is the scratch one)
    cur.execute(f"CREATE TEMPORARY TABLE `{tmp}` AS SELECT {ident} FROM `{table}` WHERE {where}")
    t = f"`{live}`.`{table}`"
    same = f"({', '.join(f'r.`{c}`' for c in cols)}) <=> ({', '.join(f'x.`{c}`' for c in cols)})"
    total = _one(cur, f"SELECT count(*) AS n FROM `{tmp}`")
    cur.execute(
        f"SELECT r.id FROM `{tmp}` r JOIN {t} x ON x.id = r.id WHERE NOT {same} ORDER BY r.id"
    )
    differ = [int(r["id"]) for r in cur.fetchall()]
    absent = f"NOT EXISTS (SELECT 1 FROM {t} x WHERE x.id = r.id)"
    missing = _one(cur, f"SELECT count(*) AS n FROM `{tmp}` r WHERE {absent}")
    # a row whose id is free but whose other unique key is taken stays out (PostgreSQL's
    # ON CONFLICT DO NOTHING); ON DUPLICATE KEY … id = id changes nothing
    cur.execute(
        f"INSERT INTO {t} ({ident}) SELECT {ident} FROM `{tmp}` r WHERE {absent} ORDER BY r.id "
        f"ON DUPLICATE KEY UPDATE id = {t}.id"
    )
    inserted = missing - _one(cur, f"SELECT count(*) AS n FROM `{tmp}` r WHERE {absent}")
    updated = 0
    if overwrite and differ:
        sets = ", ".join(f"x.`{c}` = r.`{c}`" for c in cols if c != "id")
        updated = cur.execute(
            f"UPDATE {t} x JOIN `{tmp}` r ON x.id = r.id SET {sets} WHERE NOT {same}"
        )
    return {
        "no_backup": total,
        "inseridas": inserted,
        "iguais": total - len(differ) - missing,
        "conflitos": [] if overwrite else differ[:50],
        "substituidas": updated,
        "conflitos_de_chave": missing - inserted,
    }, tmp


def merge_tables(
    settings: Settings,
    scratch: str,
    cnpj: str | None,
    plan_for: Callable[[int | None], list[tuple[str, str]]],
    *,
    overwrite: bool,
    dry_run: bool,
    progress: Callable[[str], None],
) -> tuple[int | None, list[tuple[str, str]], dict[str, Any]] | None:
    """Merge the planned rows of the scratch database into the live one; returns (empresa id,
    files to restore, per-table summary), or None when the CNPJ is not in the backup."""
    live = settings.DB_DATABASE
    conn = mytools.connect(settings, scratch)
    try:
        with conn.cursor() as cur:
            empresa_id = None
            if cnpj:
                cur.execute("SELECT id FROM empresas WHERE cnpj = %s", (cnpj,))
                row = cur.fetchone()
                if row is None:
                    return None
                empresa_id = int(row["id"])
            plan = plan_for(empresa_id)
            files: list[tuple[str, str]] = []
            tables: dict[str, Any] = {}
            cur.execute("SET FOREIGN_KEY_CHECKS = 0")
            for n, (table, where) in enumerate(plan, 1):
                mine = set(_columns(cur, scratch, table))
                cols = [c for c in _columns(cur, live, table) if c in mine]
                tables[table], tmp = _merge(cur, live, table, where, cols, overwrite)
                if table == "stored_files":
                    cur.execute(
                        f"SELECT storage_key, sha256 FROM `{tmp}` WHERE container_id IS NULL"
                    )
                    files = [(str(r["storage_key"]), str(r["sha256"])) for r in cur.fetchall()]
                cur.execute(f"DROP TEMPORARY TABLE `{tmp}`")
                progress(f"[{n}/{len(plan)}] {table}: {tables[table]}")
            cur.execute("SET FOREIGN_KEY_CHECKS = 1")
        if dry_run:
            conn.rollback()
        else:
            conn.commit()
        return empresa_id, files, tables
    except pymysql.MySQLError:
        conn.rollback()
        raise
    finally:
        conn.close()
