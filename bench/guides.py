"""Guide generation benchmark: `gerar-guias` for N empresas with a year of revenue.

Run: ``.venv/bin/python bench/guides.py [--n 10000] [--sizes 1000,5000,10000]``

For each size the tables are emptied and seeded (COPY) with N Simples empresas (Anexos I, III
and V-with-payroll mixed), one DAS tarefa each for 05/2026 and 13 months of revenue each; then
the body of the ``gerar-guias`` flow runs as the worker runs it — the same tasks (``.fn``: one
``session_scope`` transaction each, batches of 2,000 empresas), without Prefect's ~15 ms per
task of orchestration: refresh the ledger, plan, generate. A second run shows the idempotent
path (nothing created or changed). PDFs are not rendered in generation (``enviar-guias`` renders
them per send batch), so they are not part of these figures.

Baseline in the same run: the pure DAS calculation (``app.fiscal.das.monthly_das``) of N empresas.
Prints guides/s, seconds per 1,000 guides relative to the smallest size (≈1.0 = linear), the
ratio to the baseline, and peak RSS. Database: dedicated ``contab_bench_guides`` (re-created).
"""

from __future__ import annotations

import argparse
import io
import resource
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DB = "contab_bench_guides"
COMP = "2026-05"


def _setup(tmp: Path) -> None:
    from benchenv import setup

    setup(DB, tmp, redis=False, PREFECT_API_URL="http://127.0.0.1:9/api")


def _copy(cur: object, table: str, columns: str, lines: list[str]) -> None:
    with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as cp:  # type: ignore[attr-defined]
        cp.write(io.StringIO("".join(lines)).getvalue())


def _seed(n: int) -> int:
    """Empty the tables and seed n empresas; returns the DAS obligation id."""
    from app.db import get_engine
    from app.fiscal.competencia import Competencia
    from app.fiscal.obligations import load_catalogue

    ob = load_catalogue().get("DAS")
    raw = get_engine().raw_connection()
    try:
        cur = raw.cursor()
        cur.execute(
            "TRUNCATE guides, guide_events, tarefas, revenue_entries, payroll_entries, "
            "notifications, audit_log, obligations, empresas RESTART IDENTITY CASCADE"
        )
        cur.execute(
            "INSERT INTO obligations (code, name, rule, department, generates_guide, custom, "
            "active) VALUES ('DAS', %s, %s::jsonb, 'fiscal', true, false, true) RETURNING id",
            (ob.name, ob.model_dump_json()),
        )
        ob_id = int(cur.fetchone()[0])  # type: ignore[index]
        anexos = ('["I"]', '["III"]', '["V"]')
        _copy(
            cur,
            "empresas",
            "cnpj, razao_social, regime, uf, ibge_code, anexos, characteristics, responsibles, "
            "has_employees, has_withholdings, is_service_provider, active",
            [
                f"{i:014d}\tEmpresa {i}\tSIMPLES\tSP\t3550308\t{anexos[i % 3]}\t{{}}\t{{}}"
                "\tf\tf\tf\tt\n"
                for i in range(1, n + 1)
            ],
        )
        _copy(
            cur,
            "tarefas",
            "empresa_id, obligation_id, competencia, due_date, target_date, status, department, "
            "late_business_days, fine_risk",
            [
                f"{i}\t{ob_id}\t{COMP}\t2026-06-22\t2026-06-17\taberta\tfiscal\t0\tf\n"
                for i in range(1, n + 1)
            ],
        )
        start = Competencia.parse(COMP).shift(-12)
        months = [str(start.shift(k)) for k in range(13)]
        revenue, payroll = [], []
        for i in range(1, n + 1):
            anexo = ("I", "III", "V")[(i - 1) % 3]
            base = 5000 + (i * 37) % 60000  # spreads RBT12 over bands 1–4
            for k, comp in enumerate(months):
                revenue.append(f"{i}\t{comp}\t{anexo}\tdocumentos\t{base + k * 13}.25\n")
                if anexo == "V":
                    payroll.append(f"{i}\t{comp}\t{(base * (20 + i % 20)) // 100}.00\n")
        _copy(cur, "revenue_entries", "empresa_id, competencia, anexo, source, amount", revenue)
        _copy(cur, "payroll_entries", "empresa_id, competencia, amount", payroll)
        raw.commit()
        cur.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()
    return ob_id


def _gerar() -> dict[str, int]:
    """The gerar-guias flow body, task by task (as the worker runs them)."""
    from flows.guides import GENERATION_BATCH
    from tasks.guides import generate_batch, generation_plan, refresh_ledger

    plan = generation_plan.fn("2026-06-05", COMP, True)
    refresh_ledger.fn(COMP)
    empresas: list[int] = list(plan["empresas"])  # type: ignore[call-overload]
    totals: dict[str, int] = {}
    for i in range(0, len(empresas), GENERATION_BATCH):
        res = generate_batch.fn(COMP, empresas[i : i + GENERATION_BATCH])
        for k, v in res.items():
            if isinstance(v, int):
                totals[k] = totals.get(k, 0) + v
    return totals


def _baseline(n: int) -> float:
    from app.fiscal.competencia import Competencia
    from app.fiscal.das import monthly_das

    comp = Competencia.parse(COMP)
    months = {str(comp.shift(-k)): {"I": Decimal("20833.25")} for k in range(13)}
    t0 = time.perf_counter()
    for _ in range(n):
        monthly_das(competencia=comp, revenue=months, payroll={}, anexos=["I"], opened_on=None)
    return time.perf_counter() - t0


def main() -> None:
    """Seed, run, print the figures."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--sizes", default="")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s] or sorted(
        {max(args.n // 10, 1), max(args.n // 2, 1), args.n}
    )
    with tempfile.TemporaryDirectory(prefix="contab-bench-guides-") as tmp:
        _setup(Path(tmp))
        _seed(100)  # warm-up: imports, catalogue, connection pool, plan caches
        _gerar()
        _baseline(100)
        rows = []
        for n in sizes:
            t0 = time.perf_counter()
            _seed(n)
            seed_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            first = _gerar()
            gen_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            second = _gerar()
            again_s = time.perf_counter() - t0
            base_s = _baseline(n)
            rows.append((n, seed_s, gen_s, again_s, base_s, first, second))
        print(f"{'empresas':>9} {'seed s':>7} {'gerar s':>8} {'guias/s':>8} {'s/1k':>6} "
              f"{'vs menor':>8} {'2ª exec s':>9} {'DAS puro s':>10} {'x puro':>7}")  # fmt: skip
        per_k0 = rows[0][2] / rows[0][0] * 1000
        for n, seed_s, gen_s, again_s, base_s, first, second in rows:
            per_k = gen_s / n * 1000
            print(
                f"{n:>9} {seed_s:>7.2f} {gen_s:>8.2f} {n / gen_s:>8.0f} {per_k:>6.2f} "
                f"{per_k / per_k0:>8.2f} {again_s:>9.2f} {base_s:>10.2f} {gen_s / base_s:>7.1f}"
            )
            print(f"{'':>9} 1ª execução: {first}; 2ª execução: {second}")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"pico de memória (RSS): {peak:.0f} MiB")
        n, _, gen_s, *_ = rows[-1]
        verdict = "OK" if gen_s < 60 else "ACIMA DA META"
        print(f"meta: {n} empresas em < 60 s → {gen_s:.1f} s ({verdict})")


if __name__ == "__main__":
    main()
