"""Restore by empresa and/or module: selected rows from a day's dump back into the live database.

The dump is restored into a scratch database; the selected rows are copied (``COPY``) into
temporary tables of the live database and inserted where missing (``ON CONFLICT DO NOTHING``):
other empresas are never touched, a re-run inserts nothing. A live row that differs from the
backup is a conflict: reported, and replaced only with ``overwrite``. The files of the restored
rows are then put back byte-identical (sha256 checked). With ``dry_run`` the same statements run
inside a transaction that is rolled back and no file is written.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy.orm import Session, sessionmaker

from app.backup import mytools, pgtools
from app.backup.restore import Progress, fetch_dump, resolve_day, restore_objects
from app.backup.rows_mysql import merge_tables
from app.backup.target import BackupTarget
from app.errors import InvalidInput, NotFound
from app.platform import audit
from app.settings import Settings
from app.storage.base import Storage

__all__ = ["MODULES", "restore_rows"]

# {e} is the empresa condition on the table's own empresa_id (TRUE for every empresa).
_UPLOADS = "upload_id IN (SELECT id FROM uploads WHERE {e})"
_GUIDES = "guide_id IN (SELECT id FROM guides WHERE {e})"
_REQUESTS = "request_id IN (SELECT id FROM document_requests WHERE {e})"
_NOTES = "notification_id IN (SELECT id FROM notifications WHERE {e})"
_ORDERS = "order_id IN (SELECT id FROM orders WHERE {e})"

# module → (files referenced by its rows, [(table, filter)] in foreign-key order)
MODULES: dict[str, tuple[list[str], list[tuple[str, str]]]] = {
    "documentos": (
        [
            f"SELECT stored_file_id FROM upload_files WHERE {_UPLOADS}",
            "SELECT stored_file_id FROM fiscal_documents WHERE {e}",
            "SELECT stored_file_id FROM fiscal_events WHERE {e}",
        ],
        [
            ("uploads", "{e}"),
            ("fiscal_documents", "{e}"),
            ("fiscal_events", "{e}"),
            ("upload_files", _UPLOADS),
        ],
    ),
    "tarefas": (["SELECT protocol_file_id FROM tarefas WHERE {e}"], [("tarefas", "{e}")]),
    "notificacoes": ([], [("notifications", "{e}"), ("delivery_attempts", _NOTES)]),
    "guias": (
        [
            f"SELECT {c} FROM guides WHERE {{e}}"
            for c in ("pdf_file_id", "official_file_id", "receipt_file_id")
        ],
        [("guides", "{e}"), ("guide_events", _GUIDES)],
    ),
    "solicitacoes": (
        [f"SELECT file_id FROM request_items WHERE {_REQUESTS}"],
        [("document_requests", "{e}"), ("request_items", _REQUESTS)],
    ),
    "pedidos": (
        [f"SELECT stored_file_id FROM order_attachments WHERE {_ORDERS}"],
        [("orders", "{e}"), ("order_attachments", _ORDERS), ("order_messages", _ORDERS)],
    ),
}
# The empresa itself, restored first by --empresa (its row, contacts, obligations).
_EMPRESA_TABLES = [("empresas", "id = {id}"), ("contacts", "{e}"), ("company_obligations", "{e}")]


def _plan(modules: list[str], empresa_id: int | None) -> list[tuple[str, str]]:
    """(table, filter) in foreign-key order for these modules and empresa."""
    e = f"empresa_id = {int(empresa_id)}" if empresa_id is not None else "TRUE"
    refs = [q for m in modules for q in MODULES[m][0]]
    plan: list[tuple[str, str]] = []
    if empresa_id is not None and len(modules) == len(MODULES):
        plan += [(t, f.format(e=e, id=int(empresa_id))) for t, f in _EMPRESA_TABLES]
    if refs:
        union = " UNION ".join(q.format(e=e) for q in refs)
        plan.append(
            (
                "stored_files",
                f"id IN ({union}) OR id IN "
                f"(SELECT container_id FROM stored_files WHERE id IN ({union}))",
            )
        )
    for m in modules:
        plan += [(t, f.format(e=e)) for t, f in MODULES[m][1]]
    return plan


def _columns(conn: psycopg.Connection, table: str) -> list[str]:
    rows = conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' "
        "AND table_name = %s ORDER BY ordinal_position",
        (table,),
    ).fetchall()
    return [str(r[0]) for r in rows]


def _copy_table(
    src: psycopg.Connection, live: psycopg.Connection, table: str, where: str, tmp: str
) -> list[str]:
    """Copy the selected rows of table from src into the temporary table tmp of live."""
    cols = [c for c in _columns(live, table) if c in set(_columns(src, table))]
    ident = sql.SQL(", ").join(map(sql.Identifier, cols))
    live.execute(
        sql.SQL("CREATE TEMP TABLE {} (LIKE {} INCLUDING DEFAULTS) ON COMMIT DROP").format(
            sql.Identifier(tmp), sql.Identifier(table)
        )
    )
    select = sql.SQL("COPY (SELECT {} FROM {} WHERE {}) TO STDOUT").format(
        ident, sql.Identifier(table), sql.SQL(where)
    )  # type: ignore[arg-type]
    with (
        src.cursor().copy(select) as out,
        live.cursor().copy(
            sql.SQL("COPY {} ({}) FROM STDIN").format(sql.Identifier(tmp), ident)
        ) as into,
    ):
        for block in out:
            into.write(block)
    return cols


def _merge(
    live: psycopg.Connection, table: str, tmp: str, cols: list[str], overwrite: bool
) -> dict[str, Any]:
    """Insert missing rows, compare the others; returns counts and conflicting ids."""
    t, r = sql.Identifier(table), sql.Identifier(tmp)
    ident = sql.SQL(", ").join(map(sql.Identifier, cols))
    row_t = sql.SQL("ROW({})::text").format(
        sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(c)) for c in cols)
    )
    row_r = sql.SQL("ROW({})::text").format(
        sql.SQL(", ").join(sql.SQL("r.{}").format(sql.Identifier(c)) for c in cols)
    )
    total = live.execute(sql.SQL("SELECT count(*) FROM {}").format(r)).fetchone()
    differ = [
        int(x[0])
        for x in live.execute(
            sql.SQL(
                "SELECT r.id FROM {} r JOIN {} t ON t.id = r.id WHERE {} <> {} ORDER BY r.id"
            ).format(r, t, row_r, row_t)
        ).fetchall()
    ]
    missing = live.execute(
        sql.SQL(
            "SELECT count(*) FROM {} r WHERE NOT EXISTS (SELECT 1 FROM {} t WHERE t.id = r.id)"
        ).format(r, t)
    ).fetchone()
    cur = live.execute(
        sql.SQL(
            "INSERT INTO {} ({}) SELECT {} FROM {} r WHERE NOT EXISTS "
            "(SELECT 1 FROM {} t WHERE t.id = r.id) ORDER BY r.id ON CONFLICT DO NOTHING"
        ).format(t, ident, ident, r, t)
    )
    inserted = cur.rowcount
    updated = 0
    if overwrite and differ:
        sets = sql.SQL(", ").join(
            sql.SQL("{} = r.{}").format(sql.Identifier(c), sql.Identifier(c))
            for c in cols
            if c != "id"
        )
        updated = live.execute(
            sql.SQL("UPDATE {} t SET {} FROM {} r WHERE t.id = r.id AND {} <> {}").format(
                t, sets, r, row_r, row_t
            )
        ).rowcount
    live.execute(
        sql.SQL(
            "SELECT setval(pg_get_serial_sequence({}, 'id'), GREATEST((SELECT max(id) FROM {}), "
            "pg_sequence_last_value(pg_get_serial_sequence({}, 'id')::regclass)))"
        ).format(sql.Literal(table), t, sql.Literal(table))
    )
    clashes = (int(missing[0]) if missing else 0) - inserted
    total_n = int(total[0]) if total else 0
    return {
        "no_backup": total_n,
        "inseridas": inserted,
        "iguais": total_n - len(differ) - (int(missing[0]) if missing else 0),
        "conflitos": [] if overwrite else differ[:50],
        "substituidas": updated,
        "conflitos_de_chave": clashes,
    }


def _empresa_id(conn: psycopg.Connection, cnpj: str) -> int | None:
    row = conn.execute("SELECT id FROM empresas WHERE cnpj = %s", (cnpj,)).fetchone()
    return int(row[0]) if row else None


def restore_rows(
    sessions: sessionmaker[Session],
    settings: Settings,
    target: BackupTarget,
    data: Storage,
    *,
    day: str | date | None = None,
    cnpj: str | None = None,
    module: str | None = None,
    overwrite: bool = False,
    dry_run: bool = False,
    actor: str = "cli:restore",
    progress: Progress = lambda _m: None,
) -> dict[str, Any]:
    """Restore an empresa's rows and files (all modules, or one) or a module for all empresas."""
    if module is not None and module not in MODULES:
        raise InvalidInput(
            f"Módulo desconhecido: {module!r}. Módulos: {', '.join(MODULES)}",
            code="modulo_desconhecido",
        )
    if cnpj is None and module is None:
        raise InvalidInput(
            "Informe --empresa e/ou --module (ou --date)", code="restauracao_sem_alvo"
        )
    wanted = resolve_day(target, day)
    modules = [module] if module else list(MODULES)
    scratch = f"contab_scratch_{os.getpid()}_{secrets.token_hex(3)}"
    summary: dict[str, Any] = {
        "dia": wanted,
        "empresa": cnpj,
        "modulos": modules,
        "simulacao": dry_run,
        "tabelas": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        progress(f"baixando e verificando o dump de {wanted}")
        dump_path = fetch_dump(target, wanted, Path(tmp))
        progress("restaurando o dump num banco temporário")
        if settings.is_mysql:
            with mytools.scratch_database(settings, scratch, dump_path):
                merged = merge_tables(
                    settings, scratch, cnpj, lambda eid: _plan(modules, eid),
                    overwrite=overwrite, dry_run=dry_run, progress=progress,
                )  # fmt: skip
            if merged is None:
                raise NotFound(
                    f"CNPJ {cnpj} não consta do backup de {wanted}", code="empresa_desconhecida"
                )
            empresa_id, found, summary["tabelas"] = merged
            return _finish(sessions, target, data, summary, found, empresa_id, dry_run, actor,
                           wanted, progress)  # fmt: skip
        with pgtools.scratch_database(settings, scratch, dump_path):
            with pgtools.connect(settings, scratch) as src, pgtools.connect(settings) as live:
                empresa_id = _empresa_id(src, cnpj) if cnpj else None
                if cnpj and empresa_id is None:
                    raise NotFound(
                        f"CNPJ {cnpj} não consta do backup de {wanted}", code="empresa_desconhecida"
                    )
                plan = _plan(modules, empresa_id)
                files: list[tuple[str, str]] = []
                for n, (table, where) in enumerate(plan, 1):
                    tmp_name = f"_restaura_{table}"
                    cols = _copy_table(src, live, table, where, tmp_name)
                    if table == "stored_files":
                        files = [
                            (str(k), str(h))
                            for k, h in live.execute(
                                sql.SQL(
                                    "SELECT storage_key, sha256 FROM {} WHERE container_id IS NULL"
                                ).format(sql.Identifier(tmp_name))
                            ).fetchall()
                        ]
                    summary["tabelas"][table] = _merge(live, table, tmp_name, cols, overwrite)
                    progress(f"[{n}/{len(plan)}] {table}: {summary['tabelas'][table]}")
                if dry_run:
                    live.rollback()
                else:
                    live.commit()
    return _finish(
        sessions, target, data, summary, files, empresa_id, dry_run, actor, wanted, progress
    )


def _finish(
    sessions: sessionmaker[Session],
    target: BackupTarget,
    data: Storage,
    summary: dict[str, Any],
    files: list[tuple[str, str]],
    empresa_id: int | None,
    dry_run: bool,
    actor: str,
    wanted: str,
    progress: Progress,
) -> dict[str, Any]:
    progress(f"arquivos: {len(files)}")
    summary["arquivos"] = restore_objects(files, target, data, dry_run=dry_run, progress=progress)
    with sessions.begin() as s:
        audit.record(
            s,
            actor=actor,
            action="backup_restaurado",
            entity="backup",
            entity_id=wanted,
            empresa_id=empresa_id,
            reason="restauração por empresa/módulo" + (" (simulação)" if dry_run else ""),
            details=summary,
        )
    return summary
