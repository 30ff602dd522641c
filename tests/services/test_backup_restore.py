"""Restore drills with the S3 server as the backup target, through the `contab` command."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select, text

from app.backup import pgtools
from app.backup.target import get_backup_target, object_key
from app.cli import main
from app.db import get_engine, session_scope
from app.settings import get_settings
from app.storage import get_storage, reset_storage
from app.storage.local import LocalStorage
from models import AuditLog, Empresa, Guide, StoredFile
from tests.services.backup_support import CNPJS, s3_fixture, s3_target, seed, table_rows  # noqa: F401

DOC_TABLES = ("uploads", "upload_files", "fiscal_documents", "fiscal_events", "stored_files")
ALL_TABLES = (*DOC_TABLES, "guides", "guide_events", "tarefas", "notifications", "orders")


@pytest.fixture
def backup_env(clean_db, s3, monkeypatch) -> Iterator[LocalStorage]:  # type: ignore[no-untyped-def]
    """Settings with the S3 server as BACKUP_DISK; the data storage (local) seeded."""
    bucket = s3_target(s3).storage.bucket  # type: ignore[attr-defined]
    for k, v in {
        "BACKUP_DISK": "s3", "BACKUP_S3_BUCKET": bucket, "BACKUP_S3_ENDPOINT": s3.endpoint,
        "BACKUP_S3_ACCESS_KEY": s3.access_key, "BACKUP_S3_SECRET_KEY": s3.secret_key,
    }.items():  # fmt: skip
        monkeypatch.setenv(k, v)
    get_settings.cache_clear()
    reset_storage()
    storage = get_storage()
    assert isinstance(storage, LocalStorage)
    yield storage
    get_settings.cache_clear()
    reset_storage()


def run(capsys, *argv: str) -> tuple[int, dict[str, Any], str]:  # type: ignore[no-untyped-def]
    code = main(list(argv))
    out = capsys.readouterr()
    body = out.out.split("\n\nPara passar")[0]
    return code, (json.loads(body) if body.strip().startswith("{") else {}), out.err


def empresa_where(cnpj: str, table: str) -> str:
    eid = f"(SELECT id FROM empresas WHERE cnpj = '{cnpj}')"
    if table == "upload_files":
        return f"upload_id IN (SELECT id FROM uploads WHERE empresa_id = {eid})"
    if table == "guide_events":
        return f"guide_id IN (SELECT id FROM guides WHERE empresa_id = {eid})"
    return f"empresa_id = {eid}"


def snapshot(storage: LocalStorage) -> dict[str, Any]:
    rows = {(c, t): table_rows(t, empresa_where(c, t)) for c in CNPJS for t in ALL_TABLES}
    with session_scope() as s:
        files = {f.storage_key: f.sha256 for f in s.scalars(select(StoredFile))}
    blobs = {k: hashlib.sha256(storage.get(k)).hexdigest() for k in files}
    return {"rows": rows, "files": files, "blobs": blobs}


def test_drill_restore_by_empresa_and_by_module(backup_env: LocalStorage, capsys) -> None:  # type: ignore[no-untyped-def]
    storage = backup_env
    seed(storage)
    before = snapshot(storage)
    assert main(["backup"]) == 0
    capsys.readouterr()
    a, b = CNPJS[0], CNPJS[1]
    # disaster: empresa A's documents (rows and objects) deleted; one of B's guides damaged
    with session_scope() as s:
        ea = s.scalar(select(Empresa.id).where(Empresa.cnpj == a))
        doc_files = list(
            s.scalars(
                select(StoredFile).where(
                    StoredFile.empresa_id == ea, StoredFile.purpose == "upload"
                )
            )
        )
        for t in ("upload_files", "fiscal_documents", "fiscal_events", "uploads"):
            s.execute(text(f"DELETE FROM {t} WHERE {empresa_where(a, t)}"))  # noqa: S608
        for f in doc_files:
            storage.delete(f.storage_key)
            s.delete(f)
        g = s.scalar(select(Guide).join(Empresa).where(Empresa.cnpj == b))
        assert g is not None
        g.amount = 0  # type: ignore[assignment]
        pdf_key = s.get(StoredFile, g.pdf_file_id).storage_key  # type: ignore[union-attr]
    storage.put(pdf_key, b"%PDF-1.4 estragado")
    untouched = {k: v for k, v in before["rows"].items() if k[0] == CNPJS[2]}

    code, dry, err = run(capsys, "restore", "--empresa", a, "--dry-run")
    assert code == 0, err
    assert code == 0 and dry["simulacao"] and dry["tabelas"]["fiscal_documents"]["inseridas"] == 2
    assert len(dry["arquivos"]["a_restaurar"]) == 3
    assert (
        table_rows("fiscal_documents", empresa_where(a, "fiscal_documents")) == []
    )  # nothing changed

    code, done, err = run(capsys, "restore", "--empresa", a)
    assert code == 0 and done["arquivos"]["restaurados"] == 3 and "[" in err  # progress lines
    assert (
        done["tabelas"]["upload_files"]["inseridas"] == 2
        and done["tabelas"]["guides"]["inseridas"] == 0
    )
    code, mod, _ = run(capsys, "restore", "--module", "guias", "--overwrite")
    assert (
        code == 0
        and mod["tabelas"]["guides"]["substituidas"] == 1
        and mod["arquivos"]["restaurados"] == 1
    )

    after = snapshot(storage)
    assert after == before  # rows equal to before; files byte-identical (sha256)
    assert {k: v for k, v in after["rows"].items() if k[0] == CNPJS[2]} == untouched

    code, again, _ = run(capsys, "restore", "--empresa", a)  # re-running changes nothing
    assert code == 0 and again["arquivos"]["restaurados"] == 0
    assert all(t["inseridas"] == 0 and not t["conflitos"] for t in again["tabelas"].values())
    with session_scope() as s:
        assert (
            s.scalar(
                select(func.count())
                .select_from(AuditLog)
                .where(AuditLog.action == "backup_restaurado")
            )
            == 4
        )


def test_restore_errors_are_clear_and_a_corrupted_object_is_named(
    backup_env: LocalStorage, capsys
) -> None:  # type: ignore[no-untyped-def]
    storage = backup_env
    seed(storage)
    assert main(["backup"]) == 0
    capsys.readouterr()
    day = get_backup_target(get_settings()).days()[0]

    code, _, err = run(capsys, "restore", "--date", "2001-01-01")
    assert code == 1 and "backup_inexistente" in err and day in err  # lists the available dates
    code, _, err = run(capsys, "restore", "--empresa", "99888777000166")
    assert code == 1 and "empresa_desconhecida" in err
    code, _, err = run(capsys, "restore", "--module", "contabilidade")
    assert code == 1 and "modulo_desconhecido" in err and "guias" in err

    target = get_backup_target(get_settings())
    with session_scope() as s:
        docs = list(s.scalars(
            select(StoredFile).join(Empresa).where(Empresa.cnpj == CNPJS[0], StoredFile.purpose == "upload")
        ))  # fmt: skip
    for f in docs:
        storage.delete(f.storage_key)
    target.put(object_key(docs[0].sha256), b"adulterado")
    code, out, err = run(capsys, "restore", "--empresa", CNPJS[0])
    assert code == 1 and docs[0].storage_key in err
    assert out["arquivos"]["restaurados"] == len(docs) - 1
    assert [c["chave"] for c in out["arquivos"]["corrompidos"]] == [docs[0].storage_key]
    assert not storage.exists(docs[0].storage_key)
    for f in docs[1:]:
        assert hashlib.sha256(storage.get(f.storage_key)).hexdigest() == f.sha256


def test_restore_by_date_into_a_new_database_equals_the_source(
    backup_env: LocalStorage, capsys
) -> None:  # type: ignore[no-untyped-def]
    storage = backup_env
    seed(storage)
    cfg = get_settings()
    with pgtools.connect(cfg) as conn:
        source = pgtools.table_checksums(conn)
    assert main(["backup"]) == 0
    capsys.readouterr()
    day = get_backup_target(cfg).days()[-1]
    name = f"contab_restore_{day.replace('-', '')}"
    pgtools.drop_database(cfg, name)
    with session_scope() as s:
        lost = s.scalar(select(StoredFile).where(StoredFile.purpose == "guide"))
        assert lost is not None
    storage.delete(lost.storage_key)
    try:
        code, out, _ = run(capsys, "restore", "--date", day)
        assert code == 0 and out["banco"] == name and out["arquivos"]["restaurados"] == 1
        assert storage.exists(lost.storage_key)
        with pgtools.connect(cfg, name) as conn:
            restored = pgtools.table_checksums(conn)
        source.pop("backup_runs"), restored.pop("backup_runs")  # the run's own row is in the dump
        assert restored == source
        code, _, err = run(capsys, "restore", "--date", day)  # never over an existing database
        assert code == 1 and "restauracao_banco_existe" in err
    finally:
        pgtools.drop_database(cfg, name)
    with get_engine().connect() as conn:
        assert conn.scalar(text("SELECT current_database()")) == cfg.DB_DATABASE
