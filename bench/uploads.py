"""Real-world upload benchmark: one NF-e per request from concurrent clients vs one zip.

Run: ``.venv/bin/python bench/uploads.py [--n 2000] [--clients 16] [--empresas 8] [--rate 50]
[--shared-token both|only|no] [--health-requests 1000] [--health-concurrency 100] [--skip-zip]
[--zip-only]`` (``--zip-only``: the zip alone, with a timeline of its reception and batches)

Offices and their clients' ERPs send XMLs one document per request, as each NF-e is issued. This
script starts the platform the way ``make dev`` does (``app.devstack.DevStack``: Prefect server on
PostgreSQL, the pools and every deployment of prefect.yaml, one worker per pool, the API as a
real uvicorn process) in its own databases (``contab_bench_uploads`` and
``contab_bench_uploads_prefect``, re-created) on free ports, then measures in one run, through the
public HTTP contract only (``POST /api/empresas/{id}/uploads`` → 202 with the upload id;
``GET /api/uploads/{id}``; ``GET /api/health``, ``/api/live``):

(A) N single-file uploads (one XML per multipart POST) from C concurrent clients that together
    offer ``--rate`` uploads/s, evenly paced — ERPs send each NF-e as it is issued, so the
    question is whether the platform keeps up with that rate and how long a client waits
    (``--rate 0``: each client back to back, which measures capacity; then the accept latency is
    just C ÷ throughput, Little's law); client k posts to empresa ``k % E`` with that empresa's
    own client token;
(B) the same shape of traffic (N other documents, same empresas) with all C clients sharing ONE
    office-scoped integration token — the ERP case; ``--shared-token only|no`` runs one variant;
(Z) the baseline: a zip of N documents generated with the same parameters as (A)'s (another
    série, so the chaves differ and nothing is a duplicate) uploaded once, timed from the POST to
    the upload's ``finished_at``;
(H) ``--health-requests`` GETs of ``/api/health`` at ``--health-concurrency``, then the same for
    ``/api/live``, from a minimal HTTP/1.1 client (httpx's own CPU, ~4 ms a request, made the
    latency it measured at concurrency 100), after one warm-up request.

For (A)/(B) it prints the client-side accept latency per POST (p50/p95/p99), answers by status,
client timeouts (``--timeout``, 60 s) and connection errors; upload → indexed (the client's send
time to the upload's ``finished_at`` in the database: no polling of the API), uploads/s end to end
and sustained (between 10% and 90% of completions), the drain time; the flow runs created on the
``documentos`` pool during the phase, per deployment and final state; CPU seconds per document of
the platform's processes (API, worker and the flow-run processes it starts: utime+stime of
each process tree, reaped children included) with the Prefect server, the PostgreSQL server (whole
machine: shared with other users, so noisy) and the benchmark's own clients shown apart.

Everything is bounded: each request has a timeout, sending stops at ``--send-timeout``, waiting for
the uploads to be indexed stops at ``--drain-timeout`` (what did not finish is reported). Traffic
goes to 127.0.0.1 only. On exit every process started here is stopped (Prefect workers get the two
SIGTERMs they need); storage goes to a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import math
import os
import resource
import shutil
import signal
import sys
import tempfile
import time
import zipfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
DB = "contab_bench_uploads"
DEST = "99888777000136"  # the destinatário of every document (a customer, not an empresa here)
POOL = "documentos"
FINAL = ("concluido", "concluido_com_erros", "falhou")


def _make_nfe() -> Any:
    """The project's synthetic NF-e generator (moved from app/fiscal to tests/support)."""
    try:
        from tests.support.generator import make_nfe
    except ImportError:
        from app.fiscal.generator import make_nfe  # type: ignore[import-not-found, no-redef]
    return make_nfe


def _cnpj(k: int) -> str:
    from app.fiscal.cnpj import cnpj_check_digits

    base = f"{20_000_000 + k:08d}0001"
    return base + cnpj_check_digits(base)


def _docs(n: int, cnpjs: Sequence[str], clients: int, serie: int) -> list[tuple[str, bytes]]:
    """N realistic NF-e (1–12 items); document j belongs to client ``j % C``'s empresa."""
    make_nfe = _make_nfe()
    out = []
    for j in range(n):
        emit = cnpjs[(j % clients) % len(cnpjs)]
        data = make_nfe(
            emit, DEST, f"2026-{1 + j % 11:02d}", numero=j + 1, serie=serie,
            items=1 + (j * 7) % 12, value=Decimal("1234.56") + j % 1000,
        )  # fmt: skip
        out.append((f"nfe-{serie}-{j:06d}.xml", data))
    return out


# ---------------------------------------------------------------- platform


def _start(tmp: Path) -> Any:
    """Fresh databases, then the platform as ``make dev`` starts it, on free ports."""
    from benchenv import setup

    from app.localservices import create_database, free_port

    env = setup(DB, tmp, UPLOAD_MAX_TOTAL_BYTES=str(2 * 1024**3))
    create_database(
        f"postgresql://postgres@127.0.0.1:{env['DB_PORT']}/postgres", f"{DB}_prefect", drop=True
    )
    from app.devstack import DevStack
    from app.settings import get_settings

    # Every pool's worker, as make dev: /api/health reports a pool without a worker as down.
    # The same Prefect port on a retry: this process's Prefect settings (PREFECT_API_URL) are
    # fixed when prefect is first imported, during the first attempt's deploy.
    prefect_port = free_port()
    for attempt in (1, 2):  # on a busy 2-core machine a process may miss DevStack's wait
        stack = DevStack(
            settings=get_settings(),
            var_dir=tmp / "var",
            api_port=free_port(),
            prefect_port=prefect_port,
            mail_http_port=free_port(),
            prefect_db=f"{DB}_prefect",
        )
        try:
            stack.up(log=lambda *a: print("  " + " ".join(map(str, a)), flush=True))
            return stack
        except Exception as exc:  # noqa: BLE001 - up() stopped what it had started
            print(f"  platform did not start ({exc})", flush=True)
            for log in sorted((tmp / "var" / "log").glob("*.log")):
                tail = log.read_text(errors="replace").splitlines()[-8:]
                print(f"  --- {log.name}\n    " + "\n    ".join(tail), flush=True)
            if attempt == 2:
                raise
            print("  retrying once", flush=True)
    raise AssertionError("unreachable")


def _seed(n_empresas: int) -> tuple[list[int], list[str], list[str], str, int, str]:
    """Empresas with one client token each, an office integration token, a warm-up empresa."""
    from app.db import session_scope
    from app.platform.tokens import create_token
    from models import Empresa

    cnpjs = [_cnpj(k) for k in range(n_empresas + 1)]
    with session_scope() as s:
        emps = [
            Empresa(cnpj=c, razao_social=f"Bench Uploads {k}", regime="SIMPLES", uf="SP",
                    ibge_code="3550308")
            for k, c in enumerate(cnpjs)
        ]  # fmt: skip
        s.add_all(emps)
        s.flush()
        tokens = [
            create_token(s, name=f"bench-cliente-{e.id}", scope="empresa", empresa_id=e.id)[1]
            for e in emps
        ]
        _, office = create_token(s, name="integracao-erp", scope="office")
        ids = [e.id for e in emps]
    return ids[:-1], cnpjs[:-1], tokens[:-1], office, ids[-1], cnpjs[-1]


def _pg() -> Any:
    import psycopg

    from app.settings import get_settings

    s = get_settings()
    return psycopg.connect(
        f"postgresql://{s.DB_USERNAME}@{s.DB_HOST}:{s.DB_PORT}/{s.DB_DATABASE}",
        autocommit=True, connect_timeout=10,
    )  # fmt: skip


def _wait_finished(ids: list[int], timeout: float, label: str) -> float:
    """Poll the uploads table (every 0.5 s, one connection) until every upload finished;
    seconds waited."""
    t0 = time.monotonic()
    last_print = t0
    with _pg() as conn:
        while ids and time.monotonic() - t0 < timeout:
            row = conn.execute(
                "SELECT count(*) FROM uploads WHERE id = ANY(%s) AND finished_at IS NOT NULL",
                (ids,),
            ).fetchone()
            done = int(row[0]) if row else 0
            if done >= len(ids):
                break
            if time.monotonic() - last_print >= 15:
                print(f"  {label}: {done}/{len(ids)} processed after "
                      f"{time.monotonic() - t0:.0f} s", flush=True)  # fmt: skip
                last_print = time.monotonic()
            time.sleep(0.5)
    return time.monotonic() - t0


def _upload_rows(ids: list[int]) -> tuple[dict[int, tuple[str, float | None, str]], Counter[str]]:
    """Per upload: (status, finished_at epoch, flow run that processed it); and the per-file
    statuses of all of them."""
    with _pg() as conn:
        rows = conn.execute(
            "SELECT id, status, finished_at, flow_run_id FROM uploads WHERE id = ANY(%s)", (ids,)
        ).fetchall()
        files = conn.execute(
            "SELECT status, count(*) FROM upload_files WHERE upload_id = ANY(%s) GROUP BY status",
            (ids,),
        ).fetchall()
    return (
        {r[0]: (r[1], r[2].timestamp() if r[2] else None, r[3] or "") for r in rows},
        Counter({st: int(c) for st, c in files}),
    )


# ---------------------------------------------------------------- CPU and Prefect


def _tree_cpu(pid: int) -> float:
    """utime+stime of a process tree, reaped children included (cutime/cstime)."""
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
        except psutil.Error:
            continue
    return total


def _postgres_cpu() -> float:
    """The PostgreSQL server's tree (the postmaster reaps its backends: exited ones count)."""
    import psutil

    total = 0.0
    for p in psutil.process_iter(["name", "ppid"]):
        if p.info["name"] in ("postgres", "postmaster"):
            try:
                parent = psutil.Process(p.info["ppid"]).name() if p.info["ppid"] else ""
            except psutil.Error:
                continue
            if parent not in ("postgres", "postmaster"):
                total += _tree_cpu(p.pid)
    return total


def _cpu(stack: Any) -> dict[str, float]:
    out = {mp.name: _tree_cpu(mp.proc.pid) for mp in stack.supervisor.processes}
    out["postgres"] = _postgres_cpu()
    me = resource.getrusage(resource.RUSAGE_SELF)
    out["bench"] = me.ru_utime + me.ru_stime
    return out


Runs = dict[str, tuple[Counter[str], int]]


async def _flow_runs_async(start: datetime, end: datetime) -> Runs:
    """Per deployment of the documentos pool: states of the runs *created* in [start, end], and
    how many runs were running at some point of it (a long-lived run created before counts)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        WorkPoolFilter,
        WorkPoolFilterName,
    )

    out: Runs = {}
    async with get_client() as client:
        deps = await client.read_deployments(
            work_pool_filter=WorkPoolFilter(name=WorkPoolFilterName(any_=[POOL]))
        )
        for dep in deps:
            created: Counter[str] = Counter()
            ran = 0
            for page in range(200):  # ≤ 40,000 runs per deployment
                runs = await client.read_flow_runs(
                    deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[dep.id])),
                    limit=200,
                    offset=page * 200,
                )
                for r in runs:
                    if r.created is not None and start <= r.created <= end:
                        created[(r.state.name if r.state else None) or "?"] += 1
                    began, ended = r.start_time, r.end_time
                    ran += began is not None and began <= end and (ended is None or ended >= start)
                if len(runs) < 200:
                    break
            if created or ran:
                out[dep.name] = (created, ran)
    return out


def _flow_runs(start: datetime, end: datetime) -> Runs | str:
    try:
        return asyncio.run(_flow_runs_async(start, end))
    except Exception as exc:  # noqa: BLE001 - a figure missing, not a reason to stop
        return f"Prefect query failed: {type(exc).__name__}: {exc}"


# ---------------------------------------------------------------- HTTP load


@dataclass
class Sent:
    """Client-side outcome of the POSTs of one phase."""

    latencies: list[float] = field(default_factory=list)  # accepted (2xx) answers, seconds
    all_latencies: list[float] = field(default_factory=list)  # every answer
    statuses: Counter[int] = field(default_factory=Counter)
    timeouts: int = 0
    conn_errors: int = 0
    not_sent: int = 0
    sent_at: dict[int, float] = field(default_factory=dict)  # upload id → client send epoch
    first_sent: float = math.inf
    last_answer: float = 0.0
    sample_error: str = ""


def _upload_id(body: Any) -> int | None:
    if isinstance(body, dict):
        for key in ("upload_id", "id"):
            if isinstance(body.get(key), int):
                return int(body[key])
    return None


async def _client(
    base: str, token: str, jobs: list[tuple[int, str, bytes]], out: Sent, timeout: float,
    deadline: float, interval: float = 0.0, offset: float = 0.0,
) -> None:  # fmt: skip
    """One client: its documents one after the other, each in its own multipart POST.

    ``interval`` > 0 paces the client (an ERP sending each NF-e as it is issued): its k-th POST
    is due ``offset + k * interval`` seconds after the start, sent then or, when the client is
    behind (the previous answer came late), at once; 0 sends back to back."""
    import httpx

    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(
        base_url=base, headers=headers, limits=limits, timeout=timeout
    ) as http:
        start = time.monotonic()
        for k, (empresa_id, name, data) in enumerate(jobs):
            if time.monotonic() > deadline:
                out.not_sent += len(jobs) - k
                return
            if interval > 0:
                due = start + offset + k * interval
                if (wait := due - time.monotonic()) > 0:
                    await asyncio.sleep(wait)
            sent = time.time()
            out.first_sent = min(out.first_sent, sent)
            t0 = time.perf_counter()
            try:
                r = await asyncio.wait_for(
                    http.post(
                        f"/api/empresas/{empresa_id}/uploads",
                        files={"arquivos": (name, data, "application/xml")},
                    ),
                    timeout,
                )
            except (TimeoutError, httpx.TimeoutException):
                out.timeouts += 1
                continue
            except httpx.TransportError as exc:
                out.conn_errors += 1
                out.sample_error = out.sample_error or f"{type(exc).__name__}: {exc}"
                continue
            finally:
                out.last_answer = max(out.last_answer, time.time())
            lat = time.perf_counter() - t0
            out.all_latencies.append(lat)
            out.statuses[r.status_code] += 1
            if 200 <= r.status_code < 300:
                try:
                    upload_id = _upload_id(r.json())
                except ValueError:
                    upload_id = None
                if upload_id is not None:
                    out.latencies.append(lat)
                    out.sent_at[upload_id] = sent
            elif not out.sample_error:
                out.sample_error = f"HTTP {r.status_code}: {r.text[:200]}"


async def _send_all(
    base: str, plan: list[tuple[str, list[tuple[int, str, bytes]]]], timeout: float,
    send_timeout: float, rate: float = 0.0,
) -> Sent:  # fmt: skip
    """Every client at once; ``rate`` > 0: together they offer ``rate`` uploads/s, evenly
    interleaved (client i starts i/rate s after client 0); 0: each sends back to back."""
    out = Sent()
    deadline = time.monotonic() + send_timeout
    interval = len(plan) / rate if rate > 0 else 0.0
    await asyncio.gather(
        *(
            _client(base, tok, jobs, out, timeout, deadline, interval, i / rate if rate else 0.0)
            for i, (tok, jobs) in enumerate(plan)
        )
    )
    return out


async def _hammer_async(url: str, n: int, concurrency: int, timeout: float) -> dict[str, Any]:
    """``n`` GETs of ``url`` from ``concurrency`` kept-alive connections.

    A minimal HTTP/1.1 client over asyncio streams (~0.06 ms of CPU per request) rather than
    httpx (~4 ms per request here): with 100 requests in flight in one Python process, httpx's own
    CPU made the latency it measured — each answer waited for the client to serve the 99 others
    (p99 6.6 s for the constant ``/api/live`` while the server spent 0.4 ms per request)."""
    from urllib.parse import urlsplit

    u = urlsplit(url)
    host, port = u.hostname or "127.0.0.1", u.port or 80
    request = f"GET {u.path or '/'} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
    lat: list[float] = []
    statuses: Counter[int] = Counter()
    errors: dict[str, Any] = {"timeouts": 0, "conn": 0, "sample": ""}
    remaining = [n]

    async def one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> tuple[int, bytes]:
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return int(head[9:12]), await reader.readexactly(length)

    async def worker() -> None:
        conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        while remaining[0] > 0:
            remaining[0] -= 1
            t0 = time.perf_counter()
            try:
                if conn is None:
                    conn = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
                status, body = await asyncio.wait_for(one(*conn), timeout)
            except TimeoutError:
                errors["timeouts"] += 1
                conn = None
                continue
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
                errors["conn"] += 1
                conn = None
                continue
            lat.append(time.perf_counter() - t0)
            statuses[status] += 1
            if status != 200 and not errors["sample"]:
                errors["sample"] = f"{status}: {body[:300]!r}"
        if conn is not None:
            conn[1].close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return {"lat": lat, "statuses": statuses, "wall": time.perf_counter() - t0, **errors}


# ---------------------------------------------------------------- phases


def _pct(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (nan when empty)."""
    if not values:
        return math.nan
    s = sorted(values)
    return s[max(0, min(len(s) - 1, math.ceil(p / 100 * len(s)) - 1))]


def _warm_up(base: str, empresa_id: int, cnpj: str, token: str, timeout: float) -> str:
    """Two single-file uploads to a spare empresa, waited for: imports, connections, worker."""
    docs = _docs(2, [cnpj], 1, serie=9)
    sent = asyncio.run(
        _send_all(base, [(token, [(empresa_id, n, d) for n, d in docs])], timeout, timeout * 2)
    )
    if not sent.sent_at:
        return f"warm-up failed: {dict(sent.statuses)} {sent.sample_error}"
    waited = _wait_finished(list(sent.sent_at), 300, "warm-up")
    return f"warm-up: 2 single-file uploads processed {waited:.1f} s after sending"


def _phase(
    label: str, stack: Any, base: str, plan: list[tuple[str, list[tuple[int, str, bytes]]]],
    office: str, args: argparse.Namespace,
) -> dict[str, Any]:  # fmt: skip
    n = sum(len(jobs) for _, jobs in plan)
    print(f"\n[{label}] {n} uploads, {len(plan)} clients …", flush=True)
    cpu0, start = _cpu(stack), datetime.now(UTC)
    sent = asyncio.run(_send_all(base, plan, args.timeout, args.send_timeout, args.rate))
    cpu_sent = _cpu(stack)
    print(f"  sent in {sent.last_answer - sent.first_sent:.1f} s; waiting until indexed",
          flush=True)  # fmt: skip
    ids = list(sent.sent_at)
    waited = _wait_finished(ids, args.drain_timeout, label)
    cpu1, end = _cpu(stack), datetime.now(UTC)
    rows, files = _upload_rows(ids)
    return {
        "n": n, "sent": sent, "rows": rows, "files": files, "waited": waited,
        "cpu": {k: cpu1.get(k, 0.0) - cpu0.get(k, 0.0) for k in cpu1},
        "cpu_sending": {k: cpu_sent.get(k, 0.0) - cpu0.get(k, 0.0) for k in cpu_sent},
        "runs": _flow_runs(start, end), "check": _check(base, office, ids, args.timeout),
    }  # fmt: skip


def _check(base: str, token: str, ids: list[int], timeout: float) -> str:
    """The public contract on one upload: GET /api/uploads/{id} → status and per-file results."""
    import httpx

    if not ids:
        return "no upload accepted"
    try:
        r = httpx.get(
            f"{base}/api/uploads/{ids[-1]}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
        )
        body = r.json()
        files = body.get("resultados") or [{}]
        return (
            f"GET /api/uploads/{ids[-1]} → {r.status_code}, status {body.get('status')!r}, "
            f"arquivo: {files[0].get('status')!r}"
        )
    except (httpx.HTTPError, ValueError, AttributeError) as exc:
        return f"GET /api/uploads/{ids[-1]} failed: {type(exc).__name__}"


def _zip_phase(
    stack: Any, base: str, docs: list[tuple[str, bytes]], empresa_id: int, token: str,
    args: argparse.Namespace,
) -> dict[str, Any]:  # fmt: skip
    import httpx

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for name, data in docs:
            zf.writestr(name, data)
    print(f"\n[zip] 1 upload of {len(docs)} documents ({buf.tell() / 1024**2:.1f} MiB) …",
          flush=True)  # fmt: skip
    cpu0, start = _cpu(stack), datetime.now(UTC)
    sent = time.time()
    t0 = time.perf_counter()
    try:
        r = httpx.post(
            f"{base}/api/empresas/{empresa_id}/uploads",
            files={"arquivos": ("lote.zip", buf.getvalue(), "application/zip")},
            headers={"Authorization": f"Bearer {token}"},
            timeout=args.timeout,
        )
    except httpx.HTTPError as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}
    t_api = time.perf_counter() - t0
    try:
        upload_id = _upload_id(r.json()) if r.status_code < 300 else None
    except ValueError:
        upload_id = None
    if upload_id is None:
        return {"error": f"HTTP {r.status_code}: {r.text[:300]}"}
    waited = _wait_finished([upload_id], args.drain_timeout, "zip")
    cpu1, end = _cpu(stack), datetime.now(UTC)
    rows, files = _upload_rows([upload_id])
    status, finished, run = rows[upload_id]
    return {
        "n": len(docs), "t_api": t_api, "status": status, "files": files, "waited": waited,
        "e2e": (finished - sent) if finished else None,
        "cpu": {k: cpu1.get(k, 0.0) - cpu0.get(k, 0.0) for k in cpu1},
        "runs": _flow_runs(start, end), "run": run,
        "timeline": _zip_timeline(upload_id, sent, t_api),
    }  # fmt: skip


def _zip_timeline(upload_id: int, sent: float, t_api: float) -> list[tuple[float, str]]:
    """Seconds after the POST was sent: the upload recorded, each batch's transaction start
    (``upload_files.updated_at`` is ``now()``, the transaction's start, on PostgreSQL) with its
    file count, the POST's answer and ``finished_at``."""
    with _pg() as conn:
        up = conn.execute(
            "SELECT created_at, finished_at FROM uploads WHERE id = %s", (upload_id,)
        ).fetchone()
        batches = conn.execute(
            "SELECT updated_at, count(*) FROM upload_files WHERE upload_id = %s"
            " GROUP BY updated_at ORDER BY updated_at",
            (upload_id,),
        ).fetchall()
    events = [(t_api, "POST answered (202)")]
    if up is not None:
        events.append((up[0].timestamp() - sent, "reception transaction started (files stored)"))
        if up[1] is not None:
            events.append((up[1].timestamp() - sent, "finished_at (upload complete)"))
    prev = None
    for k, (at, n) in enumerate(batches, 1):
        gap = f", {at.timestamp() - prev:.2f} s after the previous" if prev else ""
        events.append((at.timestamp() - sent, f"batch {k} transaction started: {n} files{gap}"))
        prev = at.timestamp()
    return sorted(events)


# ---------------------------------------------------------------- report


def _ms(v: float) -> str:
    return "—" if math.isnan(v) else f"{v * 1e3:,.0f}"


def _s(v: float | None) -> str:
    return "—" if v is None or math.isnan(v) else f"{v:,.1f}"


def _runs_text(runs: Runs | str) -> list[str]:
    if isinstance(runs, str):
        return [runs]
    if not runs:
        return ["0"]
    return [
        f"{name}: {sum(c.values())} created"
        + (f" ({', '.join(f'{k} {v}' for k, v in c.most_common())})" if c else "")
        + f", {ran} running during the phase"
        for name, (c, ran) in sorted(runs.items())
    ]


def _cpu_text(cpu: dict[str, float], docs: int) -> list[str]:
    """Platform (API + worker + flow runs + any other process the stack started) per doc."""
    if docs <= 0:
        return ["—"]
    idle = [f"worker-{p}" for p in ("default", "notificacoes", "guias")]
    outside = ("prefect-server", "mailsink", "postgres", "bench", *idle)
    platform = sum(v for k, v in cpu.items() if k not in outside)
    parts = ", ".join(
        f"{k} {v * 1e3 / docs:.1f}" for k, v in sorted(cpu.items()) if k not in outside
    )
    return [
        f"{platform * 1e3 / docs:.1f} ms ({parts})",
        f"apart: Prefect server {cpu.get('prefect-server', 0) * 1e3 / docs:.1f} ms, PostgreSQL "
        f"(whole machine) {cpu.get('postgres', 0) * 1e3 / docs:.1f} ms, other pools' workers "
        f"{sum(cpu.get(k, 0) for k in idle) * 1e3 / docs:.1f} ms, bench clients "
        f"{cpu.get('bench', 0) * 1e3 / docs:.1f} ms",
    ]


def _summarise(ph: dict[str, Any]) -> dict[str, Any]:
    sent: Sent = ph["sent"]
    rows = ph["rows"]
    done = {i: fin for i, (st, fin, _) in rows.items() if fin is not None and st in FINAL}
    e2e = [fin - sent.sent_at[i] for i, fin in done.items()]
    fins = sorted(done.values())
    total = (fins[-1] - sent.first_sent) if fins else math.nan
    k10, k90 = int(len(fins) * 0.1), max(0, math.ceil(len(fins) * 0.9) - 1)
    steady = (
        (k90 - k10) / (fins[k90] - fins[k10])
        if len(fins) >= 10 and fins[k90] > fins[k10]
        else math.nan
    )
    non2xx = {k: v for k, v in sorted(sent.statuses.items()) if not 200 <= k < 300}
    statuses = Counter(st for st, _, _ in rows.values())
    named = Counter(run for _, _, run in rows.values())
    window = sent.last_answer - sent.first_sent
    return {
        "accept": f"{_ms(_pct(sent.latencies, 50))} / {_ms(_pct(sent.latencies, 95))} / "
        f"{_ms(_pct(sent.latencies, 99))}",
        "accept_all_max": _ms(max(sent.all_latencies, default=math.nan)),
        "2xx": str(len(sent.sent_at)),
        "non2xx": ", ".join(f"{k}×{v}" for k, v in non2xx.items()) or "0",
        "timeouts": str(sent.timeouts),
        "conn": str(sent.conn_errors),
        "not_sent": str(sent.not_sent),
        "offered": f"{len(sent.all_latencies) / window:,.1f}" if window > 0 else "—",
        "e2e": f"{_s(_pct(e2e, 50))} / {_s(_pct(e2e, 95))} / {_s(max(e2e, default=math.nan))}",
        "done": f"{len(done)} of {len(sent.sent_at)}"
        + (f" (after {ph['waited']:.0f} s wait limit)" if len(done) < len(sent.sent_at) else ""),
        "statuses": ", ".join(f"{k} {v}" for k, v in statuses.most_common()) or "—",
        "files": ", ".join(f"{k} {v}" for k, v in ph["files"].most_common()) or "—",
        "rate": len(fins) / total if fins and total > 0 else math.nan,
        "steady": steady,
        "total": total,
        "tail": (fins[-1] - sent.last_answer) if fins else math.nan,
        "runs": _runs_text(ph["runs"]),
        "named": f"{len(set(named) - {''})} distinct run(s) named by the uploads"
        + (f", {named['']} upload(s) naming none" if named[""] else ""),
        "cpu": _cpu_text(ph["cpu"], len(done)),
        "cpu_sending": _cpu_text(ph["cpu_sending"], len(sent.sent_at))[0],
        "check": ph["check"],
        "error": sent.sample_error,
    }


def _table(header: Sequence[str], rows: Sequence[tuple[str, Sequence[str]]]) -> None:
    width = max(len(r[0]) for r in rows) + 2
    cols = [max(len(header[i]), *(len(r[1][i]) for r in rows)) + 2 for i in range(len(header))]
    print("".ljust(width) + "".join(h.ljust(c) for h, c in zip(header, cols, strict=True)))
    for label, values in rows:
        print(label.ljust(width) + "".join(v.ljust(c) for v, c in zip(values, cols, strict=True)))


def _report_phases(phases: dict[str, dict[str, Any]], zip_rate: float | None) -> None:
    names = list(phases)
    sums = [_summarise(phases[k]) for k in names]

    def row(label: str, key: str, fmt: Any = str) -> tuple[str, list[str]]:
        return label, [fmt(s[key]) for s in sums]

    rate = lambda v: "—" if math.isnan(v) else f"{v:,.2f}"  # noqa: E731
    rows = [
        row("accept p50 / p95 / p99 (ms, 2xx)", "accept"),
        row("slowest answer (ms, any status)", "accept_all_max"),
        row("2xx (accepted)", "2xx"),
        row("non-2xx by status", "non2xx"),
        row("client timeouts", "timeouts"),
        row("connection errors", "conn"),
        row("not sent (send timeout)", "not_sent"),
        row("POST answers/s while sending", "offered"),
        row("upload → indexed p50 / p95 / max (s)", "e2e"),
        row("uploads finished", "done"),
        row("upload statuses", "statuses"),
        row("file statuses", "files"),
        row("uploads/s end to end", "rate", rate),
        row("uploads/s sustained (10→90%)", "steady", rate),
        row("total: first sent → last indexed (s)", "total", _s),
        row("drain after last answer (s)", "tail", _s),
    ]
    if zip_rate:
        rows.append(("single uploads/s ÷ zip docs/s", [
            "—" if math.isnan(s["rate"]) else f"{s['rate'] / zip_rate:.1%}" for s in sums
        ]))  # fmt: skip
    _table(names, rows)
    for name, s in zip(names, sums, strict=True):
        print(f"\n  {name}:")
        print("    flow runs (documentos pool): " + "; ".join(s["runs"]))
        print("    " + s["named"])
        print("    CPU per indexed document, platform: " + s["cpu"][0])
        print("      " + s["cpu"][1])
        print("    CPU per accepted upload, sending window only: " + s["cpu_sending"])
        print("    " + s["check"])
        if s["error"]:
            print(f"    first error: {s['error']}")


def _report_zip(z: dict[str, Any]) -> float | None:
    print("\n(Z) zip baseline")
    if "error" in z:
        print(f"  failed: {z['error']}")
        return None
    rate = z["n"] / z["e2e"] if z["e2e"] else None
    print(f"  {z['n']} docs in one zip: POST answered in {z['t_api']:.2f} s; status {z['status']};"
          f" files: {', '.join(f'{k} {v}' for k, v in z['files'].most_common())}")  # fmt: skip
    if rate:
        print(f"  end to end (POST sent → finished_at): {z['e2e']:.1f} s = {rate:,.0f} docs/s")
    else:
        print(f"  not finished after {z['waited']:.0f} s")
    print("  timeline (seconds after the POST was sent):")
    for at, what in z.get("timeline", []):
        print(f"    {at:7.2f}  {what}")
    print(
        "  flow runs (documentos pool): "
        + "; ".join(_runs_text(z["runs"]))
        + f"; the upload names run {z['run'] or '—'}"
    )
    cpu = _cpu_text(z["cpu"], z["n"])
    print(f"  CPU per document, platform: {cpu[0]}\n    {cpu[1]}")
    return rate


def _report_health(results: dict[str, dict[str, Any] | None], n: int, conc: int) -> None:
    print(f"\n(H) {n} GETs at concurrency {conc} (client-side latency; lean HTTP/1.1 client, "
          "kept-alive connections, after one warm-up request)")  # fmt: skip
    rows = []
    for path, h in results.items():
        if h is None:
            rows.append((path, ["absent (404)", "", "", "", ""]))
            continue
        other = {k: v for k, v in sorted(h["statuses"].items()) if k != 200}
        rows.append((path, [
            f"{_ms(_pct(h['lat'], 50))} / {_ms(_pct(h['lat'], 99))}",
            ", ".join(f"{k}×{v}" for k, v in other.items()) or "0",
            f"{h['timeouts']} / {h['conn']}",
            f"{len(h['lat']) / h['wall']:,.0f}" if h["wall"] > 0 else "—",
            f"{h['statuses'].get(200, 0)}",
        ]))  # fmt: skip
    _table(["p50 / p99 (ms)", "non-200", "timeouts / conn err", "req/s", "200"], rows)
    for path, h in results.items():
        if h is not None:
            print(f"  {path}: {h['wall']:.2f} s wall; CPU s: API {h['cpu']['api']:.2f} "
                  f"({h['cpu']['api'] * 1e3 / max(1, len(h['lat'])):.2f} ms per request), bench "
                  f"client {h['cpu']['bench']:.2f}")  # fmt: skip
        if h is not None and h["sample"]:
            print(f"  first non-200 of {path}: {h['sample']}")


# ---------------------------------------------------------------- main


def _plan(
    docs: list[tuple[str, bytes]], ids: list[int], tokens: list[str], clients: int,
    shared: str | None,
) -> list[tuple[str, list[tuple[int, str, bytes]]]]:  # fmt: skip
    """Client c sends documents c, c+C, … to empresa ``c % E`` (its own or the shared token)."""
    plan = []
    for c in range(clients):
        e = c % len(ids)
        jobs = [(ids[e], name, data) for name, data in docs[c::clients]]
        plan.append((shared or tokens[e], jobs))
    return plan


def main() -> None:
    """Generate, start the platform, measure, print, stop."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--n", type=int, default=2000, help="single-file uploads per variant")
    ap.add_argument("--clients", type=int, default=16, help="concurrent clients")
    ap.add_argument("--empresas", type=int, default=8, help="empresas the clients spread over")
    ap.add_argument(
        "--rate",
        type=float,
        default=50.0,
        help="uploads/s the clients offer together, evenly paced (0: each client back to back)",
    )
    ap.add_argument(
        "--shared-token",
        choices=("both", "only", "no"),
        default="both",
        help="also (both), only, or never run the variant with one shared token",
    )
    ap.add_argument("--health-requests", type=int, default=1000)
    ap.add_argument("--health-concurrency", type=int, default=100)
    ap.add_argument("--skip-zip", action="store_true", help="no zip baseline")
    ap.add_argument(
        "--zip-only", action="store_true", help="only the zip (no single-file uploads, no health)"
    )
    ap.add_argument("--timeout", type=float, default=60.0, help="per request, seconds")
    ap.add_argument(
        "--send-timeout",
        type=float,
        default=900.0,
        help="stop sending a variant's uploads after this many seconds",
    )
    ap.add_argument(
        "--drain-timeout",
        type=float,
        default=600.0,
        help="stop waiting for a variant's uploads to be indexed after this",
    )
    args = ap.parse_args()  # fmt: skip
    if args.zip_only:
        args.skip_zip = False
    n_emp = max(1, min(args.empresas, args.clients))

    def _term(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _term)
    tmp = Path(tempfile.mkdtemp(prefix="contab-bench-uploads-"))
    load0 = " ".join(f"{x:.1f}" for x in os.getloadavg())
    stack = None
    try:
        cnpjs = [_cnpj(k) for k in range(n_emp)]
        t0 = time.perf_counter()
        docs_a = _docs(args.n, cnpjs, args.clients, serie=1) if not args.zip_only else []
        docs_b = _docs(args.n, cnpjs, args.clients, serie=3) if not args.zip_only else []
        if args.shared_token == "no":
            docs_b = []
        # the zip goes to one empresa: its documents are (A)'s with that empresa as emitter
        docs_z = _docs(args.n, cnpjs[:1], args.clients, serie=2) if not args.skip_zip else []
        sized = docs_a or docs_z
        size = sum(len(d) for _, d in sized) / max(1, len(sized))
        print(
            f"bench/uploads: N={args.n} NF-e ({size / 1024:.1f} KiB average, 1–12 items) per "
            f"variant, C={args.clients} clients over {n_emp} empresas, "
            f"{f'offering {args.rate:g} uploads/s' if args.rate else 'back to back'}; "
            f"{os.cpu_count()} CPUs; "
            f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; generated in {time.perf_counter() - t0:.1f} s"
        )
        t0 = time.perf_counter()
        print("starting the platform (make dev's DevStack, own databases and ports):", flush=True)
        stack = _start(tmp)
        print(f"  up in {time.perf_counter() - t0:.1f} s; processes: "
              f"{', '.join(mp.name for mp in stack.supervisor.processes)}")  # fmt: skip
        base = f"http://127.0.0.1:{stack.api_port}"
        emp_ids, cnpjs2, tokens, office, warm_id, warm_cnpj = _seed(n_emp)
        assert cnpjs2 == cnpjs
        print("  " + _warm_up(base, warm_id, warm_cnpj, office, args.timeout), flush=True)

        zip_res = None
        if docs_z:  # first, on a quiet platform, like the baseline of bench/ingest.py
            zip_res = _zip_phase(stack, base, docs_z, emp_ids[0], office, args)
        phases: dict[str, dict[str, Any]] = {}
        if args.shared_token != "only" and not args.zip_only:
            plan = _plan(docs_a, emp_ids, tokens, args.clients, None)
            phases["(A) one token per empresa"] = _phase("A", stack, base, plan, office, args)
        if args.shared_token != "no" and not args.zip_only:
            plan = _plan(docs_b, emp_ids, tokens, args.clients, office)
            phases["(B) one shared token"] = _phase("B", stack, base, plan, office, args)
        del docs_a, docs_b, docs_z
        health = {}
        for path in ("/api/health", "/api/live") if not args.zip_only else ():
            # one request first: the measure is of the served (cached) answer, as a readiness
            # probe sees it every few seconds, not of the process's first probe of each component
            asyncio.run(_hammer_async(f"{base}{path}", 1, 1, args.timeout))
            cpu0 = _cpu(stack)
            h = asyncio.run(
                _hammer_async(f"{base}{path}", args.health_requests, args.health_concurrency,
                              args.timeout)
            )  # fmt: skip
            cpu1 = _cpu(stack)
            h["cpu"] = {k: cpu1.get(k, 0.0) - cpu0.get(k, 0.0) for k in ("api", "bench")}
            health[path] = None if h["statuses"].get(404) == len(h["lat"]) else h

        print("\n" + "=" * 100)
        print(
            f"RESULTS — N={args.n}, C={args.clients}, {n_emp} empresas, "
            f"{f'offered {args.rate:g}/s' if args.rate else 'back to back'}, {os.cpu_count()} CPUs; "
            f"load average at start {load0}, now {' '.join(f'{x:.1f}' for x in os.getloadavg())}"
        )
        zip_rate = _report_zip(zip_res) if zip_res is not None else None
        if phases:
            print("\nsingle-file uploads (one NF-e per POST)")
            _report_phases(phases, zip_rate)
        if health:
            _report_health(health, args.health_requests, args.health_concurrency)
    finally:
        if stack is not None:
            stack.down()
            logs = ROOT / "var" / "bench" / "uploads-log"
            shutil.rmtree(logs, ignore_errors=True)
            shutil.copytree(stack.supervisor.log_dir, logs, dirs_exist_ok=True)
            print(f"\nlogs of the platform's processes: {logs}")
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
