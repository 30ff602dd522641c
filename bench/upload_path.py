"""Where the seconds of a small upload go: process start-up, imports, Prefect round-trips,
worker polling — with one flow run per upload (before) and with drain runs (now).

Run: ``.venv/bin/python bench/upload_path.py [--uploads 20]``

Starts the platform as ``make dev`` does (``app.devstack.DevStack``: Prefect server on
PostgreSQL, pools, deployments, one process worker per pool with 1 s polling, the API with its
upload dispatcher) in its own databases (``contab_bench_path`` and ``contab_bench_path_prefect``,
re-created) on free ports, then prints:

1. imports a flow-run process pays before any work: ``import prefect``, and our flow module;
2. the request's old orchestrator cost: ``run_deployment(..., timeout=0)`` (what each upload
   POST used to await) and the client set-up it includes;
3. one flow run through the process worker (the ``teste-de-fumaca-documentos`` deployment, an
   empty flow): created → Pending (worker polling) → Running (process spawn + imports + engine
   set-up) → Completed, from the run's state history;
4. now: ``--uploads`` single-XML uploads posted one by one: accept latency, upload → indexed
   (the upload's ``finished_at``), and the number of drain runs that processed them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _time_cmd(code: str, rounds: int = 3) -> float:
    """Median wall seconds of ``python -c code`` in a fresh process."""
    out = []
    for _ in range(rounds):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)  # noqa: S603
        out.append(time.perf_counter() - t)
    return median(out)


def _env(tmp: Path) -> None:
    from app.localservices import free_port, port_open

    os.environ.update(
        {
            "APP_ENV": "dev",
            "DB_HOST": "127.0.0.1",
            "DB_PORT": "5432" if port_open("127.0.0.1", 5432) else "55432",
            "DB_DATABASE": "contab_bench_path",
            "DB_USERNAME": "postgres",
            "DB_PASSWORD": "",
            "REDIS_HOST": "127.0.0.1",
            "REDIS_DB": "8",
            "FILESYSTEM_DISK": "local",
            "STORAGE_LOCAL_ROOT": str(tmp / "storage"),
            "MAIL_PORT": str(free_port()),
            "PREFECT_HOME": str(tmp / "prefect"),
            "PREFECT_API_URL": f"http://127.0.0.1:{free_port()}/api",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "CONTAB_HOME": str(ROOT),
        }
    )


async def _history(run_id: Any) -> dict[str, float]:
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        while True:
            fr = await client.read_flow_run(run_id)
            if fr.state and fr.state.is_final():
                break
            await asyncio.sleep(0.2)
        states = await client.read_flow_run_states(run_id)
    first: dict[str, float] = {}
    for st in states:
        first.setdefault(st.type.value, st.timestamp.timestamp())
    return first


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--uploads", type=int, default=20)
    args = p.parse_args()
    print("1. imports in a fresh process (median of 3)")
    print(f"   python -c pass            {_time_cmd('pass'):6.2f} s")
    print(f"   import prefect            {_time_cmd('import prefect'):6.2f} s")
    print(f"   import flows.documents    {_time_cmd('import flows.documents'):6.2f} s")

    tmp = Path(tempfile.mkdtemp(prefix="contab-bench-path-"))
    _env(tmp)
    from app.devstack import DevStack
    from app.localservices import create_database, free_port
    from app.settings import get_settings

    get_settings.cache_clear()
    s = get_settings()
    admin = f"postgresql://postgres@127.0.0.1:{s.DB_PORT}/postgres"
    for db in ("contab_bench_path", "contab_bench_path_prefect"):
        create_database(admin, db, drop=True)
    stack = DevStack(
        settings=s,
        var_dir=tmp / "var",
        api_port=free_port(),
        prefect_port=int(s.PREFECT_API_URL.rsplit(":", 1)[1].split("/")[0]),
        mail_http_port=free_port(),
        prefect_db="contab_bench_path_prefect",
        env={"PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false"},
    )
    t = time.perf_counter()
    stack.up(log=lambda *_: None)
    print(f"\n(platform up in {time.perf_counter() - t:.0f} s)")
    try:
        _orchestrator(stack)
        _uploads(stack, args.uploads)
    finally:
        stack.down()


def _orchestrator(stack: Any) -> None:
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment

    from app.deployments import smoke_deployment

    name = smoke_deployment("documentos")
    calls, setups = [], []
    for _ in range(10):
        t = time.perf_counter()
        with get_client(sync_client=True) as client:
            client.read_deployment_by_name(name)
        setups.append(time.perf_counter() - t)
        t = time.perf_counter()
        fr = run_deployment(name, timeout=0)
        calls.append(time.perf_counter() - t)
    print("\n2. the request's old orchestrator cost (median of 10, idle server)")
    print(f"   run_deployment(timeout=0)            {median(calls) * 1000:6.0f} ms")
    print(f"   client set-up + one read             {median(setups) * 1000:6.0f} ms")
    runs = []
    for _ in range(3):
        fr = run_deployment(name, timeout=0)
        runs.append(asyncio.run(_history(fr.id)))  # type: ignore[union-attr]
    print("\n3. one flow run through the process worker (median of 3)")
    for label, a, b in (
        ("created → Pending (worker polling)", "SCHEDULED", "PENDING"),
        ("Pending → Running (spawn, imports, engine)", "PENDING", "RUNNING"),
        ("Running → Completed (an empty flow)", "RUNNING", "COMPLETED"),
        ("created → Completed", "SCHEDULED", "COMPLETED"),
    ):
        vals = [r[b] - r[a] for r in runs if a in r and b in r]
        print(f"   {label:44s} {median(vals):6.2f} s" if vals else f"   {label}: n/a")


def _uploads(stack: Any, n: int) -> None:
    import httpx
    from sqlalchemy import select

    from app.db import session_scope
    from app.platform.tokens import create_token
    from models import Empresa, Upload
    from tests.support.generator import make_nfe

    with session_scope() as s:
        emp = Empresa(cnpj="11222333000181", razao_social="Bench", regime="SIMPLES", uf="SP",
                      ibge_code="3550308")  # fmt: skip
        s.add(emp)
        s.flush()
        _, token = create_token(s, name="bench", scope="office")
        emp_id = emp.id
    url = f"http://127.0.0.1:{stack.api_port}/api/empresas/{emp_id}/uploads"
    sent: dict[int, float] = {}
    accept = []
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
        for k in range(n):
            xml = make_nfe("11222333000181", "99888777000136", numero=k + 1)
            t = time.time()
            r = http.post(url, files=[("arquivos", (f"n{k}.xml", xml, "application/xml"))])
            accept.append(time.time() - t)
            sent[r.json()["upload_id"]] = t
            time.sleep(0.1)
    deadline = time.time() + 300
    while time.time() < deadline:
        with session_scope() as s:
            rows = s.execute(
                select(Upload.id, Upload.finished_at, Upload.flow_run_id).where(
                    Upload.id.in_(list(sent))
                )
            ).all()
        if all(f is not None for _, f, _ in rows):
            break
        time.sleep(0.5)
    lat = sorted(f.timestamp() - sent[i] for i, f, _ in rows if f is not None)
    print(f"\n4. now: {n} single-XML uploads, one every ~0.1 s")
    print(f"   accept p50 / max                      {median(accept) * 1000:6.0f} / "
          f"{max(accept) * 1000:.0f} ms")  # fmt: skip
    print(f"   upload → indexed p50 / max            {median(lat):6.2f} / {max(lat):.2f} s")
    print(f"   drain runs used                       {len({r for _, _, r in rows})}")


if __name__ == "__main__":
    main()
