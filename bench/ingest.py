"""Ingest benchmark (issue 3 item 9): baseline vs our validation path vs end-to-end into the DB.

Run: ``.venv/bin/python bench/ingest.py [--n 10000] [--batch 200]``

Generates N NF-e (~10 KiB, 8 items) into a zip on disk (streamed: never all in memory), then
measures in one run:

(a) baseline — hardened lxml parse + a handful of precompiled XPaths (the physical floor);
(b) ours — ``parse_bytes`` + ``validate`` (XSD, chave, consistency) + empresa match + row mapping;
(c) end-to-end — POST of the zip to the real API app (in-process ASGI client), storage of every
    file, then the ``processar-upload-xml`` tasks (``.fn``, one transaction per batch, as the
    worker runs them) into PostgreSQL.

Prints docs/s, the ratios (b)/(a) and (c)/(a), and peak RSS. The database is a dedicated
``contab_bench_ingest`` (dropped and re-created); storage goes to a temporary directory.
"""

from __future__ import annotations

import argparse
import os
import resource
import secrets
import shutil
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CNPJ = "11222333000181"
OTHER = "99888777000136"


def _setup(tmp: Path) -> None:
    from app.localservices import create_database, ensure_postgres, ensure_redis, port_open

    pg_port = 5432 if port_open("127.0.0.1", 5432) else 55432
    redis_port = 6379 if port_open("127.0.0.1", 6379) else 56379
    os.environ.update(
        {
            "APP_ENV": "dev",
            "APP_KEY": "bench-" + secrets.token_urlsafe(32),
            "DB_HOST": "127.0.0.1",
            "DB_PORT": str(pg_port),
            "DB_DATABASE": "contab_bench_ingest",
            "DB_USERNAME": "postgres",
            "DB_PASSWORD": "",
            "REDIS_HOST": "127.0.0.1",
            "REDIS_PORT": str(redis_port),
            "FILESYSTEM_DISK": "local",
            "STORAGE_LOCAL_ROOT": str(tmp / "storage"),
            "UPLOAD_MAX_TOTAL_BYTES": str(2 * 1024**3),
            # Nothing listens here: the API records the upload; the bench runs the flow's tasks.
            "PREFECT_API_URL": "http://127.0.0.1:9/api",
            "PREFECT_HOME": str(tmp / "prefect"),
        }
    )
    var = ROOT / "var" / "bench"
    ensure_postgres("127.0.0.1", pg_port, var / "pg")
    ensure_redis("127.0.0.1", redis_port, var / "redis")
    create_database(
        f"postgresql://postgres@127.0.0.1:{pg_port}/postgres", "contab_bench_ingest", drop=True
    )
    from app.migrate import upgrade

    upgrade()


def _generate(n: int, path: Path) -> int:
    from app.fiscal.generator import make_nfe

    template: dict[int, bytes] = {}
    size = 0
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for i in range(n):
            comp = f"2026-{1 + i % 12:02d}"
            data = make_nfe(CNPJ, OTHER, comp, numero=i + 1, items=8, value=Decimal("1234.56"))
            template.setdefault(0, data)
            size += len(data)
            zf.writestr(f"nfe-{i:06d}.xml", data)
    return size


def _iter_zip(path: Path) -> Iterator[bytes]:
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            yield zf.read(info)


def _baseline(path: Path) -> float:
    from lxml import etree

    from app.fiscal.xmlsec import make_parser

    parser = make_parser()
    ns = {"n": "http://www.portalfiscal.inf.br/nfe"}
    paths = [
        etree.XPath(p, namespaces=ns, smart_strings=False)
        for p in (
            "string(n:NFe/n:infNFe/@Id)",
            "string(n:NFe/n:infNFe/n:emit/n:CNPJ)",
            "string(n:NFe/n:infNFe/n:dest/n:CNPJ)",
            "string(n:NFe/n:infNFe/n:ide/n:dhEmi)",
            "string(n:NFe/n:infNFe/n:total/n:ICMSTot/n:vNF)",
            "string(n:protNFe/n:infProt/n:nProt)",
            "string(n:protNFe/n:infProt/n:cStat)",
        )
    ]
    elapsed = 0.0
    for data in _iter_zip(path):
        t0 = time.perf_counter()
        root = etree.fromstring(data, parser)
        for xp in paths:
            xp(root)
        elapsed += time.perf_counter() - t0
    return elapsed


def _ours(path: Path) -> float:
    from datetime import UTC, datetime

    from app.fiscal.nfe import match_company, parse_bytes, validate
    from app.services.documents_rows import document_values

    now = datetime.now(UTC)
    elapsed = 0.0
    for data in _iter_zip(path):
        t0 = time.perf_counter()
        tree, doc = parse_bytes(data)
        doc = validate(doc, tree)
        direction = match_company(doc, CNPJ) or "saida"
        document_values(doc, empresa_id=1, direction=direction, stored_file_id=1, now=now)
        elapsed += time.perf_counter() - t0
        assert doc.ok, doc.errors
    return elapsed


def _end_to_end(path: Path, batch: int) -> tuple[float, float, dict[str, int]]:
    from fastapi.testclient import TestClient
    from sqlalchemy import func, select

    from app.api.main import create_app
    from app.db import session_scope
    from app.services.documents_lifecycle import start_upload
    from app.services.tokens import create_token
    from models import Empresa, FiscalDocument
    from tasks.documents import complete_upload, process_batch

    with session_scope() as s:
        emp = Empresa(cnpj=CNPJ, razao_social="Bench", regime="SIMPLES", uf="SP",
                      ibge_code="3550308")  # fmt: skip
        s.add(emp)
        s.flush()
        _, token = create_token(s, name="bench", scope="office")
        emp_id = emp.id
    with TestClient(create_app()) as client, path.open("rb") as fh:
        t0 = time.perf_counter()
        r = client.post(
            f"/api/empresas/{emp_id}/uploads",
            files=[("arquivos", ("lote.zip", fh, "application/zip"))],
            headers={"Authorization": f"Bearer {token}"},
        )
        t_api = time.perf_counter() - t0
    assert r.status_code == 202, r.text
    uid = r.json()["upload_id"]
    t1 = time.perf_counter()
    with session_scope() as s:
        batches = start_upload(s, upload_id=uid, batch_size=batch)
    for ids in batches:
        process_batch.fn(uid, ids)
    result = complete_upload.fn(uid)
    t_flow = time.perf_counter() - t1
    with session_scope() as s:
        indexed = s.scalar(select(func.count()).select_from(FiscalDocument)) or 0
    assert indexed == sum(1 for _ in zipfile.ZipFile(path).infolist()), result
    return t_api, t_flow, result["por_status"]


def main() -> None:
    """Generate, measure, print."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--batch", type=int, default=200)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="contab-bench-"))
    try:
        _setup(tmp)
        zpath = tmp / "lote.zip"
        t0 = time.perf_counter()
        raw = _generate(args.n, zpath)
        print(
            f"N={args.n} docs, {raw / args.n / 1024:.1f} KiB each, zip "
            f"{zpath.stat().st_size / 1024**2:.1f} MiB (generated in {time.perf_counter() - t0:.1f} s)"
        )
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        a = _baseline(zpath)
        b = _ours(zpath)
        t_api, t_flow, statuses = _end_to_end(zpath, args.batch)
        c = t_api + t_flow
        n = args.n
        print(f"(a) baseline lxml parse+extract : {n / a:10,.0f} docs/s")
        print(f"(b) parse+validate (ours)       : {n / b:10,.0f} docs/s   (b)/(a) = {a / b:.0%}")
        print(
            f"(c) end-to-end API+flow into DB : {n / c:10,.0f} docs/s   (c)/(a) = {a / c:.0%}"
            f"   [API upload {t_api:.1f} s, processing {t_flow:.1f} s]"
        )
        print(f"    upload files: {statuses}")
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS: {rss:.0f} MiB (after generation: {rss0:.0f} MiB)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
