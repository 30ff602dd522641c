"""GET /metrics: the Prometheus exposition of the API's latency and the platform's state.

Protected by a bearer ``METRICS_TOKEN`` or, without one, by the client address
(``METRICS_ALLOW_NETWORKS``); it is not under the API token router (a scraper holds no API
token). A scrape costs at most: the health probes' shared result (app/health.py, cached), one
Prefect snapshot and one database snapshot per ``METRICS_CACHE_SECONDS`` (shared by every
scrape), and one timed storage ping per period.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import math
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric

from app.deployments import POOLS
from app.health import COMPONENTS, check_all
from app.monitoring.cache import Cached
from app.monitoring.db_source import DbSnapshot, read_db
from app.monitoring.http import REGISTRY
from app.monitoring.prefect_source import PrefectSnapshot, read_prefect
from app.settings import get_settings
from app.storage import get_storage

__all__ = ["FAMILIES", "MetricsEndpoint", "allowed", "sources"]


def _ttl() -> float:
    return get_settings().METRICS_CACHE_SECONDS


def _storage_latency() -> float:
    start = time.perf_counter()
    get_storage().ping()
    return time.perf_counter() - start


@lru_cache(maxsize=1)
def sources() -> dict[str, Cached[Any]]:
    """The shared, cached sources of one process."""
    return {
        "prefect": Cached(read_prefect, _ttl),
        "database": Cached(read_db, _ttl),
        "storage": Cached(_storage_latency, _ttl),
    }


def allowed(headers: dict[str, str], client_host: str) -> bool:
    """A bearer METRICS_TOKEN, or a client address inside METRICS_ALLOW_NETWORKS."""
    s = get_settings()
    token = s.METRICS_TOKEN.get_secret_value()
    auth = headers.get("authorization", "")
    if token and auth.lower().startswith("bearer "):
        if hmac.compare_digest(auth[7:].strip().encode(), token.encode()):
            return True
    try:
        addr = ipaddress.ip_address(client_host)
    except ValueError:
        return False
    nets = [n.strip() for n in s.METRICS_ALLOW_NETWORKS.split(",") if n.strip()]
    return any(addr in ipaddress.ip_network(n, strict=False) for n in nets)


def _gauge(name: str, doc: str, labels: list[str], values: Mapping[Any, float]) -> Metric:
    fam = GaugeMetricFamily(name, doc, labels=labels)
    for key, value in values.items():
        fam.add_metric([str(k) for k in (key if isinstance(key, tuple) else (key,))], value)
    return fam


def _prefect_families(snap: PrefectSnapshot | None) -> Iterator[Metric]:
    snap = snap or PrefectSnapshot()
    yield _gauge(
        "contab_pool_workers_alive",
        "Workers do pool com heartbeat recente.",
        ["pool"],
        {p: snap.workers_alive.get(p, 0) for p in POOLS},
    )
    yield _gauge(
        "contab_pool_queue_lag_seconds",
        "Idade da execução Scheduled/Pending mais antiga cujo horário já passou.",
        ["pool"],
        {p: snap.queue_lag_seconds.get(p, 0.0) for p in POOLS},
    )
    yield _gauge(
        "contab_pool_late_runs",
        "Execuções no estado Late por pool.",
        ["pool"],
        {p: snap.late_runs.get(p, 0) for p in POOLS},
    )
    yield _gauge(
        "contab_flow_runs_recent",
        "Execuções que terminaram Failed ou Crashed na janela recente, por implantação.",
        ["deployment", "state"],
        {(d, st.capitalize()): n for (d, st), n in snap.final_runs.items()},
    )


def _db_families(snap: DbSnapshot | None, now: datetime) -> Iterator[Metric]:
    snap = snap or DbSnapshot()
    yield _gauge(
        "contab_guide_generation_failures",
        "Guias cujo cálculo falhou (ainda não corrigido), por tipo de guia.",
        ["kind"],
        snap.guide_failures,
    )
    yield _gauge(
        "contab_document_requests_late",
        "Solicitações de documentos abertas após o prazo de entrega.",
        [],
        {(): snap.late_requests},
    )
    yield _gauge(
        "contab_document_request_items_missing",
        "Itens pendentes das solicitações atrasadas.",
        [],
        {(): snap.missing_items},
    )
    yield _gauge(
        "contab_outbox_backlog",
        "Mensagens aguardando envio (pendente/enviando) por canal.",
        ["channel"],
        snap.outbox_backlog,
    )
    yield _gauge(
        "contab_outbox_oldest_pending_seconds",
        "Espera da mensagem pendente mais antiga já devida, por canal.",
        ["channel"],
        snap.outbox_oldest_seconds,
    )
    yield _gauge(
        "contab_outbox_delivery_failures_recent",
        "Tentativas de entrega que falharam na janela recente, por canal e resultado.",
        ["channel", "outcome"],
        snap.delivery_failures,
    )
    last = snap.last_backup_at
    yield _gauge(
        "contab_backup_last_success_age_seconds",
        "Idade do último backup concluído (+Inf quando não há nenhum).",
        [],
        {(): (now - last).total_seconds() if last else math.inf},
    )


def _collect(health: dict[str, Any]) -> list[Metric]:
    src = sources()
    now = datetime.now(UTC)
    s = get_settings()
    latency = src["storage"].get()
    families: list[Metric] = [
        *_prefect_families(src["prefect"].get()),
        *_db_families(src["database"].get(), now),
        _gauge(
            "contab_component_up",
            "1 quando o componente responde (sondas compartilhadas de /api/health).",
            ["component"],
            {c: 1.0 if health.get(c) == "ok" else 0.0 for c in COMPONENTS},
        ),
        _gauge(
            "contab_storage_latency_seconds",
            "Duração da última sonda de armazenamento (NaN quando falhou).",
            [],
            {(): latency if latency is not None and src["storage"].ok else math.nan},
        ),
        _gauge(
            "contab_metrics_source_up",
            "1 quando a última leitura da fonte de métricas funcionou.",
            ["source"],
            {name: 1.0 if c.ok else 0.0 for name, c in src.items()},
        ),
        _gauge(
            "contab_app_info",
            "Versão e ambiente deste processo.",
            ["version", "env"],
            {(s.APP_VERSION, s.APP_ENV): 1.0},
        ),
    ]
    return families


FAMILIES = {
    "contab_http_request_duration_seconds": ("method", "route", "status"),
    "contab_pool_workers_alive": ("pool",),
    "contab_pool_queue_lag_seconds": ("pool",),
    "contab_pool_late_runs": ("pool",),
    "contab_flow_runs_recent": ("deployment", "state"),
    "contab_guide_generation_failures": ("kind",),
    "contab_document_requests_late": (),
    "contab_document_request_items_missing": (),
    "contab_outbox_backlog": ("channel",),
    "contab_outbox_oldest_pending_seconds": ("channel",),
    "contab_outbox_delivery_failures_recent": ("channel", "outcome"),
    "contab_backup_last_success_age_seconds": (),
    "contab_component_up": ("component",),
    "contab_storage_latency_seconds": (),
    "contab_metrics_source_up": ("source",),
    "contab_app_info": ("version", "env"),
}


class _Scrape:
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()
        yield from self.families


async def _respond(send: Any, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class MetricsEndpoint:
    """The ASGI endpoint of ``GET /metrics`` (framework-free: mounted by app/api/main.py)."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        json_type = (b"content-type", b"application/json")
        if scope["method"] not in ("GET", "HEAD"):
            body = {"erro": {"codigo": "metodo_nao_permitido", "mensagem": "Método não permitido."}}
            headers = [json_type, (b"allow", b"GET, HEAD")]
            await _respond(send, 405, json.dumps(body).encode(), headers)
            return
        headers_in = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        client = (scope.get("client") or ("", 0))[0]
        if not allowed(headers_in, client):
            body = {
                "erro": {
                    "codigo": "token_invalido",
                    "mensagem": "Token ausente, inválido ou revogado.",
                }
            }
            headers = [json_type, (b"www-authenticate", b"Bearer")]
            await _respond(send, 401, json.dumps(body, ensure_ascii=False).encode(), headers)
            return
        health = await check_all()
        families = await asyncio.to_thread(_collect, health)
        text = generate_latest(_Scrape(families))  # type: ignore[arg-type]
        await _respond(send, 200, text, [(b"content-type", CONTENT_TYPE_LATEST.encode())])
