"""Time the monthly generation (obligations + tarefas + requests) for 1k, 5k and 10k empresas.

Run: ``.venv/bin/python bench/generate.py [--n 1000 5000 10000] [--db mysql|both]``. Uses its own database
(``contab_bench_generate``) on the local PostgreSQL (or an embedded one, like the tests). The
work is exactly what the flows' tasks do per chunk of 2,000 empresas (assignment, tarefas of one
competência, requests of the previous one), without Prefect's orchestration overhead. Prints
time, rows and rows/s per size, the cost ratio vs the 1k baseline measured in the same run
(linear growth = the size ratio), the re-run time (idempotent: 0 rows) and peak memory.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DB = "contab_bench_generate"
CHUNK = 2000
PLACES = [("SP", "3550308"), ("RJ", "3304557"), ("MG", "3106200"), ("PR", "4106902"),
          ("SC", "4205407"), ("SP", "3509502")]  # fmt: skip
# regime, has_employees, has_withholdings, is_service_provider, characteristics
PROFILES = [
    ("MEI", False, False, False, {}),
    ("MEI", True, False, False, {}),
    ("SIMPLES", False, False, False, {}),
    ("SIMPLES", True, False, False, {}),
    ("SIMPLES", True, True, True, {}),
    ("PRESUMIDO", True, True, True, {}),
    ("PRESUMIDO", False, False, False, {"keeps_ecd": True}),
    ("REAL", True, True, False, {"lucro_real_anual": True}),
]


def setup(db: str = "postgres") -> None:
    """Point the settings at a fresh, migrated benchmark database (PostgreSQL or MySQL)."""
    import tempfile

    from benchenv import setup as bench_setup

    bench_setup(DB, Path(tempfile.mkdtemp(prefix="contab-bench-generate-")), db=db)


_TABLES = ("empresas", "tarefas", "company_obligations", "document_requests", "request_items",
           "notifications", "contacts", "audit_log")  # fmt: skip


def _seed_mysql(s: Any, cols: dict[str, list[object]]) -> None:
    """The same rows on MySQL/MariaDB (no unnest, no TRUNCATE of several tables)."""
    import json

    from sqlalchemy import insert, text

    from app.document_requests.service import seed_templates
    from app.obligations.catalogue import sync_catalogue
    from models import Empresa

    s.execute(text("SET FOREIGN_KEY_CHECKS = 0"))
    for t in _TABLES:
        s.execute(text(f"TRUNCATE TABLE {t}"))
    s.execute(text("SET FOREIGN_KEY_CHECKS = 1"))
    sync_catalogue(s)
    seed_templates(s)
    keys = ("cnpj", "razao_social", "regime", "uf", "ibge_code", "has_employees",
            "has_withholdings", "is_service_provider", "characteristics")  # fmt: skip
    rows = [
        {**dict(zip(keys, values, strict=True)), "anexos": [], "responsibles": {}, "active": True}
        for values in zip(*cols.values(), strict=True)
    ]
    for r in rows:
        r["characteristics"] = json.loads(str(r["characteristics"]))
    for start in range(0, len(rows), 2000):
        s.execute(insert(Empresa), rows[start : start + 2000])
    s.execute(
        text(
            "INSERT INTO contacts (empresa_id, name, email, preferences, opt_out_email, "
            "opt_out_whatsapp, active) SELECT id, 'Contato', CONCAT('c', id, '@cliente.exemplo'), "
            "'{}', false, false, true FROM empresas"
        )
    )


def seed(n: int) -> None:
    """Empty the tables and insert ``n`` empresas (valid CNPJs) and one contact each."""
    import json

    from sqlalchemy import text

    from app.db import session_scope
    from app.document_requests.service import seed_templates
    from app.fiscal.cnpj import cnpj_check_digits
    from app.obligations.catalogue import sync_catalogue
    from app.sqlcompat import is_mysql

    with session_scope() as s:
        cols: dict[str, list[object]] = {k: [] for k in "c r g u i e w p x".split()}
        for k in range(n):
            base = f"{k + 10_000_000:08d}0001"
            reg, emp, wh, sp, chars = PROFILES[k % len(PROFILES)]
            uf, ibge = PLACES[k % len(PLACES)]
            for key, v in zip("c r g u i e w p x".split(),
                              (base + cnpj_check_digits(base), f"Empresa {k}", reg, uf, ibge,
                               emp, wh, sp, json.dumps(chars)), strict=True):  # fmt: skip
                cols[key].append(v)
        if is_mysql(s):
            _seed_mysql(s, cols)
            return
        s.execute(text("TRUNCATE empresas, tarefas, company_obligations, document_requests, "
                       "request_items, notifications, contacts, audit_log RESTART IDENTITY CASCADE"))  # fmt: skip
        sync_catalogue(s)
        seed_templates(s)
        s.execute(
            text(
                "INSERT INTO empresas (cnpj, razao_social, regime, uf, ibge_code, has_employees, "
                "has_withholdings, is_service_provider, characteristics, anexos, responsibles, "
                "active) SELECT c, r, g, u, i, e, w, p, CAST(x AS jsonb), '[]', '{}', true "
                "FROM unnest(CAST(:c AS varchar[]), CAST(:r AS varchar[]), CAST(:g AS varchar[]), "
                "CAST(:u AS varchar[]), CAST(:i AS varchar[]), CAST(:e AS bool[]), "
                "CAST(:w AS bool[]), CAST(:p AS bool[]), CAST(:x AS text[])) "
                "AS t(c, r, g, u, i, e, w, p, x)"
            ),
            cols,
        )
        s.execute(
            text(
                "INSERT INTO contacts (empresa_id, name, email, preferences, opt_out_email, "
                "opt_out_whatsapp, active) SELECT id, 'Contato', 'c' || id || '@cliente.exemplo', "
                "'{}', false, false, true FROM empresas"
            )
        )


def run_once() -> tuple[float, int]:
    """What the monthly flows do: assignment + tarefas (2026-06) + requests (2026-05)."""
    from datetime import UTC, datetime

    from app.db import session_scope
    from app.document_requests.service import generate_requests
    from app.fiscal.competencia import Competencia
    from app.obligations.calendar import load_holiday_index
    from app.obligations.catalogue import reconcile_assignments
    from app.obligations.tarefas import empresa_chunks, generate_tarefas

    t0 = time.perf_counter()
    rows = 0
    with session_scope() as s:
        chunks = empresa_chunks(s, chunk_size=CHUNK)
    for chunk in chunks:
        with session_scope() as s:
            rows += reconcile_assignments(s, empresa_ids=chunk, effective=Competencia(2026, 1))
            rows += generate_tarefas(s, empresa_ids=chunk, competencias=[Competencia(2026, 6)],
                                     holidays=load_holiday_index(s))  # fmt: skip
            out = generate_requests(s, empresa_ids=chunk, competencia=Competencia(2026, 5),
                                    now=datetime.now(UTC))  # fmt: skip
            rows += out["criadas"] + out["itens"] + out["notificacoes"]
    return time.perf_counter() - t0, rows


def _measure(db: str, sizes: list[int]) -> dict[int, tuple[float, float]]:
    """Print one line per size plus the linear-growth check; {n: (seconds, re-run seconds)}."""
    setup(db)
    print(f"database: {db}")
    base: tuple[int, float] | None = None
    out: dict[int, tuple[float, float]] = {}
    for n in sizes:
        seed(n)
        elapsed, rows = run_once()
        rerun, again = run_once()
        out[n] = (elapsed, rerun)
        if base is None:
            base = (n, elapsed)
        ratio = elapsed / base[1]
        print(
            f"{n:6d} empresas: {elapsed:6.2f} s, {rows:7d} rows, {rows / elapsed:8.0f} rows/s | "
            f"cost x{ratio:4.1f} for size x{n / base[0]:4.1f} | re-run {rerun:5.2f} s, "
            f"{again} new rows"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (RSS): {peak:.0f} MiB")
    return out


def _both(sizes: list[int]) -> None:
    """Each database in its own process (settings and engines are per process), then the
    closing note: both databases' figures side by side."""
    import json
    import subprocess

    results: dict[str, dict[str, list[float]]] = {}
    for db in ("postgres", "mysql"):
        proc = subprocess.run(  # noqa: S603
            [sys.executable, __file__, "--db", db, "--json", "--n", *map(str, sizes)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        lines = proc.stdout.splitlines()
        print("\n".join(ln for ln in lines if not ln.startswith("RESULT ")))
        results[db] = json.loads(next(ln for ln in lines if ln.startswith("RESULT "))[7:])
    print("\nside by side (seconds; MariaDB/MySQL ÷ PostgreSQL):")
    for n in sizes:
        (pg, pg_re), (my, my_re) = results["postgres"][str(n)], results["mysql"][str(n)]
        print(
            f"{n:6d} empresas: PostgreSQL {pg:6.2f} s | MySQL {my:6.2f} s | x{my / pg:4.2f}"
            f"   re-run: {pg_re:5.2f} s | {my_re:5.2f} s | x{my_re / pg_re:4.2f}"
        )


def main() -> None:
    """Measure one database, or both side by side (``--db both``)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, nargs="*", default=[1000, 5000, 10000])
    parser.add_argument("--db", choices=("postgres", "mysql", "both"), default="postgres",
                        help="the office database (mysql: MariaDB/MySQL; both: side by side)")  # fmt: skip
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.db == "both":
        _both(args.n)
        return
    out = _measure(args.db, args.n)
    if args.json:
        import json

        print("RESULT " + json.dumps(out))


if __name__ == "__main__":
    main()
