"""Backup and restore at scale: times and sizes, and how incremental the second backup is.

    .venv/bin/python bench/backup.py                      # 1,000 empresas / 10,000 documents
    .venv/bin/python bench/backup.py --full               # 10,000 empresas / 100,000 documents
    .venv/bin/python bench/backup.py --s3                 # the S3 server (SeaweedFS) as target

Steps: first backup (dump + every object copied), 1% of the objects changed, second backup
(copies ≈ 1% of them), restore by date into a new database with the data storage emptied
(every object comes back from the target), restore of one empresa into the live database.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchenv import setup  # noqa: E402


def _seed(n_empresas: int, n_docs: int, storage) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    from app.db import get_engine

    with get_engine().begin() as conn:
        conn.execute(text(
            "INSERT INTO empresas (cnpj, razao_social, regime, uf, ibge_code, anexos, characteristics, "
            "responsibles, has_employees, has_withholdings, is_service_provider, active) "
            "SELECT lpad(g::text, 14, '0'), 'Empresa ' || g, 'SIMPLES', 'SP', '3550308', '[]', '{}', "
            "'{}', false, false, false, true FROM generate_series(1, :n) g"
        ), {"n": n_empresas})  # fmt: skip
    rows = []
    for i in range(n_docs):
        body = (
            f"<nfeProc><NFe><infNFe Id='NFe{i:044d}'><det>"
            + "x" * 1500
            + "</det></infNFe></NFe></nfeProc>"
        ).encode()
        sha = hashlib.sha256(body).hexdigest()
        empresa = i % n_empresas + 1
        key = f"uploads/{empresa}/{sha}"
        storage.put(key, body)
        rows.append({"e": empresa, "sha": sha, "size": len(body), "key": key, "chave": f"{i:044d}"})
    with get_engine().begin() as conn:
        for start in range(0, len(rows), 5000):
            part = rows[start : start + 5000]
            conn.execute(text(
                "INSERT INTO stored_files (empresa_id, sha256, size, content_type, original_name, "
                "storage_key, purpose) VALUES (:e, :sha, :size, 'application/xml', 'nf.xml', :key, 'upload')"
            ), part)  # fmt: skip
        conn.execute(text(
            "INSERT INTO fiscal_documents (empresa_id, stored_file_id, chave, kind, direction, status, "
            "validation_status, validation, warnings, totals, cfops, item_count, total, competencia) "
            "SELECT empresa_id, id, lpad(id::text, 44, '0'), 'nfe', 'saida', 'autorizada', 'valido', "
            "'{}', '[]', '{}', '[]', 1, 100.00, '2026-10' FROM stored_files"
        ))  # fmt: skip


def _change_one_percent(storage) -> int:  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    from app.db import get_engine

    with get_engine().begin() as conn:
        picked = conn.execute(text(
            "SELECT id, empresa_id, storage_key FROM stored_files WHERE id % 100 = 0"
        )).fetchall()  # fmt: skip
        for fid, empresa, _key in picked:
            body = f"<nfeProc alterado='{fid}'>".encode() + b"y" * 1500
            sha = hashlib.sha256(body).hexdigest()
            key = f"uploads/{empresa}/{sha}"
            storage.put(key, body)
            conn.execute(
                text(
                    "UPDATE stored_files SET sha256 = :s, storage_key = :k, size = :n WHERE id = :i"
                ),
                {"s": sha, "k": key, "n": len(body), "i": fid},
            )
    return len(picked)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--empresas", type=int, default=1000)
    parser.add_argument("--documentos", type=int, default=10000)
    parser.add_argument("--full", action="store_true", help="10,000 empresas / 100,000 documentos")
    parser.add_argument("--s3", action="store_true", help="SeaweedFS S3 as the backup target")
    args = parser.parse_args()
    if args.full:
        args.empresas, args.documentos = 10_000, 100_000
    tmp = Path(tempfile.mkdtemp(prefix="contab-bench-backup-"))
    setup("contab_bench_backup", tmp, redis=False, PREFECT_API_URL="http://127.0.0.1:9/api",
          BACKUP_LOCAL_ROOT=str(tmp / "backup"))  # fmt: skip
    from app.backup import pgtools, run_backup
    from app.backup.restore import restore_date
    from app.backup.rows import restore_rows
    from app.backup.target import BackupTarget, get_backup_target
    from app.db import get_sessionmaker
    from app.settings import get_settings
    from app.storage import get_storage

    cfg, sessions, data = get_settings(), get_sessionmaker(), get_storage()
    server = None
    if args.s3:
        from app.storage.s3 import S3Storage
        from tests.support.s3server import start_s3

        server = start_s3(tmp / "s3")
        s3 = S3Storage(bucket="backup", access_key=server.access_key, secret_key=server.secret_key,
                       region=server.region, endpoint=server.endpoint)  # fmt: skip
        s3.ensure_bucket()
        target = BackupTarget(s3)
    else:
        target = get_backup_target(cfg)
    try:
        t0 = time.perf_counter()
        _seed(args.empresas, args.documentos, data)
        print(f"dados: {args.empresas} empresas, {args.documentos} documentos "
              f"({time.perf_counter() - t0:.1f} s para gerar); destino: {target.name}")  # fmt: skip

        t0 = time.perf_counter()
        first = run_backup(sessions, data, cfg, today=date(2026, 11, 28), target=target)
        t1 = time.perf_counter() - t0
        print(f"1º backup: {t1:.1f} s; dump {first['size_bytes'] / 1e6:.1f} MB; "
              f"objetos copiados {first['copied']} ({first['copied_bytes'] / 1e6:.1f} MB)")  # fmt: skip
        changed = _change_one_percent(data)
        t0 = time.perf_counter()
        second = run_backup(sessions, data, cfg, today=date(2026, 11, 29), target=target)
        t2 = time.perf_counter() - t0
        ratio = second["copied"] / max(1, int(str(second["files"])))
        print(f"2º backup após {changed} objetos alterados: {t2:.1f} s; copiados {second['copied']} "
              f"de {second['files']} ({ratio:.2%}); dump {second['size_bytes'] / 1e6:.1f} MB")  # fmt: skip

        shutil.rmtree(cfg.storage_root)  # the data storage lost: every object from the target
        name = "contab_bench_restore"
        pgtools.drop_database(cfg, name)
        t0 = time.perf_counter()
        out = restore_date(sessions, cfg, target, data, day="2026-11-29", database=name)
        t3 = time.perf_counter() - t0
        print(
            f"restauração por data (banco novo + {out['arquivos']['restaurados']} objetos): {t3:.1f} s"
        )
        pgtools.drop_database(cfg, name)
        t0 = time.perf_counter()
        one = restore_rows(sessions, cfg, target, data, day="2026-11-29", cnpj="1".zfill(14))
        t4 = time.perf_counter() - t0
        print(f"restauração de uma empresa (banco temporário + linhas): {t4:.1f} s; "
              f"documentos já presentes: {one['tabelas']['fiscal_documents']['iguais']}")  # fmt: skip
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
