"""Essential logs exported with every backup: readable without restoring the database.

Audit log (kept 7 years), the guide delivery protocol (``guide_events``: sent, delivered,
viewed with IP and user agent, paid) and the operational logs, as gzipped JSON lines; plus a
summary of the last day's flow runs from the Prefect API when it answers.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from sqlalchemy import JSON

from app.backup.target import BackupTarget

__all__ = ["LOG_TABLES", "export_logs", "export_logs_mysql", "flow_run_summary"]

LOG_TABLES = {
    "auditoria": "audit_log",
    "protocolo_guias": "guide_events",
    "operacionais": "operational_logs",
}


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return (
        str(value)
        if not isinstance(value, (int, float, str, bool, dict, list, type(None)))
        else value
    )


def export_logs(conn: psycopg.Connection, target: BackupTarget, prefix: str) -> dict[str, Any]:
    """Write each log table as ``logs/<name>.jsonl.gz``; returns rows, bytes and sha256 of each."""

    def rows_of(table: str) -> Iterator[dict[str, Any]]:
        with conn.cursor(row_factory=dict_row) as cur:
            cur.execute(sql.SQL("SELECT * FROM {} ORDER BY id").format(sql.Identifier(table)))
            yield from cur

    return _export(rows_of, target, prefix)


def export_logs_mysql(conn: Any, target: BackupTarget, prefix: str) -> dict[str, Any]:
    """:func:`export_logs` over a PyMySQL connection (dict rows): the same lines — JSON columns
    decoded and DATETIME values (UTC) made aware, as psycopg returns them."""
    from models import Base

    def rows_of(table: str) -> Iterator[dict[str, Any]]:
        cols = Base.metadata.tables[table].c
        as_json = {c.name for c in cols if isinstance(c.type, JSON)}
        with conn.cursor() as cur:
            cur.execute(f"SELECT * FROM `{table}` ORDER BY id")
            for row in cur:
                for k, v in row.items():
                    if k in as_json and isinstance(v, str):
                        row[k] = json.loads(v)
                    elif isinstance(v, datetime) and v.tzinfo is None:
                        row[k] = v.replace(tzinfo=UTC)
                yield row

    return _export(rows_of, target, prefix)


def _export(
    rows_of: Callable[[str], Iterator[dict[str, Any]]], target: BackupTarget, prefix: str
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, table in LOG_TABLES.items():
        buf = io.BytesIO()
        rows = 0
        with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz:
            for row in rows_of(table):
                line = json.dumps({k: _jsonable(v) for k, v in row.items()}, ensure_ascii=False)
                gz.write(line.encode() + b"\n")
                rows += 1
        data = buf.getvalue()
        key = f"{prefix}/logs/{name}.jsonl.gz"
        target.put(key, data)
        out[name] = {
            "chave": key,
            "linhas": rows,
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
    return out


def flow_run_summary(
    api_url: str, *, now: datetime | None = None, timeout: float = 5.0
) -> dict[str, Any]:
    """Flow runs of the last 24 h by state, and the ones that did not complete (best effort)."""
    now = now or datetime.now(UTC)
    body = {
        "flow_runs": {"start_time": {"after_": (now - timedelta(days=1)).isoformat()}},
        "limit": 200,
        "sort": "START_TIME_DESC",
    }
    try:
        resp = httpx.post(f"{api_url.rstrip('/')}/flow_runs/filter", json=body, timeout=timeout)
        resp.raise_for_status()
        runs = resp.json()
    except (httpx.HTTPError, ValueError) as exc:
        return {"disponivel": False, "nota": f"API do Prefect indisponível: {type(exc).__name__}"}
    states = Counter(str((r.get("state") or {}).get("type") or "?") for r in runs)
    failed = [
        {
            "nome": r.get("name"),
            "estado": (r.get("state") or {}).get("name"),
            "inicio": r.get("start_time"),
        }
        for r in runs
        if (r.get("state") or {}).get("type") in {"FAILED", "CRASHED"}
    ]
    return {
        "disponivel": True,
        "total": len(runs),
        "por_estado": dict(states),
        "falhas": failed[:50],
    }
