"""Monitoring end to end, through the session's platform (real Prefect server on PostgreSQL, a
process worker per pool, the API served by uvicorn, the SMTP sink) — docs/monitoring.md:

- a run that fails for real (``restaurar-backup`` asked for a day with no backup) fires the
  automation ``notificar-falhas-de-execucao``; ``alertas-operacionais`` queues the alert and
  ``enviar-notificacoes`` delivers exactly one e-mail per operations contact; the same Failed
  event emitted again fires the automation again and sends nothing twice;
- the Prefect figures of ``/metrics`` against the live server: a pool whose worker stopped, with
  a run waiting since two minutes ago, shows 0 workers, 1 late run and the run's age as queue
  lag, and goes back to 1 / 0 / 0 when its worker returns and runs it; runs by final state count
  the failed run under its deployment;
- a real Prometheus (Debian package, ``make tools``) scrapes the platform's API: every metric
  family exists with its labels.

The platform is shared by the session: the notificacoes worker (which runs ``alertas-operacionais``)
is restarted with ``OPS_ALERT_EMAILS`` and the API with ``METRICS_ALLOW_NETWORKS`` for this
module only, and both are restarted as they were at the end.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

import pytest

from app.deployments import ENVIAR_NOTIFICACOES, POOLS, RESTAURAR_BACKUP, smoke_deployment
from tests.e2e.conftest import run_and_wait
from tests.monitoring.prom import Prometheus

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1200)]

OPS = ("operacoes@escritorio.example.com.br", "plantao@escritorio.example.com.br")
ALERT_DEPLOYMENT = "alertas-operacionais/alertas-operacionais"
NO_BACKUP_DAY = "1999-01-01"  # the office has no backup of that day: the restore fails
WAITING_SINCE = 120  # seconds: the start time of the run left waiting on a pool with no worker

T = TypeVar("T")


def eventually(what: str, read: Callable[[], T], ok: Callable[[T], bool], timeout: float) -> T:
    """Poll ``read`` until ``ok`` holds; fail with the last value read."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if ok(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: não aconteceu em {timeout:.0f} s (último: {value!r})")
        time.sleep(2)


def _process(platform: Any, name: str) -> Any:
    return next(p for p in platform.supervisor.processes if p.name == name)


def _respawn(platform: Any, name: str, extra_env: dict[str, str] | None) -> Any:
    """Stop one process of the platform and start it again with ``extra_env``."""
    old = _process(platform, name)
    old.stop()
    platform.supervisor.processes.remove(old)
    return platform.supervisor.start(
        old.name, old.args, cwd=old.cwd, extra_env=extra_env, signals_to_stop=old.signals_to_stop
    )


def _wait_api(platform: Any, proc: Any) -> None:
    from app.localservices import wait_for_http

    wait_for_http(f"http://127.0.0.1:{platform.api_port}/api/live", 300, proc.proc)


@contextmanager
def respawned_with(platform: Any, name: str, env: dict[str, str]) -> Iterator[Any]:
    """The platform's process ``name`` with ``env`` added, for the block only."""
    original = dict(_process(platform, name).extra_env or {})
    new = _respawn(platform, name, {**original, **env})
    try:
        yield new
    finally:
        back = _respawn(platform, name, original or None)
        if name == "api":
            _wait_api(platform, back)


@contextmanager
def stopped(platform: Any, name: str) -> Iterator[None]:
    """The platform's process ``name`` stopped for the block, then started as it was."""
    proc = _process(platform, name)
    proc.stop()
    try:
        yield
    finally:
        platform.supervisor.restart(proc)


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def monitored(platform: Any) -> Iterator[Any]:
    """The platform with the operations contacts configured on the default worker and the
    API's /metrics open to loopback scrapers (figures refreshed every second)."""
    from tests.conftest import truncate_all

    env = {"OPS_ALERT_EMAILS": ",".join(OPS)}
    metrics = {"METRICS_ALLOW_NETWORKS": "127.0.0.1/32", "METRICS_CACHE_SECONDS": "1"}
    truncate_all()  # an empty outbox: enviar-notificacoes sends only what this module queues
    with respawned_with(platform, "worker-notificacoes", env):
        with respawned_with(platform, "api", metrics) as api:
            _wait_api(platform, api)
            yield platform
    truncate_all()


@pytest.fixture(scope="module")
def failed_run(monitored: Any) -> Any:
    """A run that failed for real: a restore of a day the office has no backup of."""
    fr = run_and_wait(RESTAURAR_BACKUP, {"data": NO_BACKUP_DAY, "simulacao": True}, timeout=300)
    assert fr.state.name == "Failed", (fr.state.name, fr.state.message)
    return fr


@pytest.fixture(scope="module")
def prometheus(monitored: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    """A real Prometheus scraping the platform's API every 3 s."""
    from app.localservices import free_port

    prom = Prometheus(
        tmp_path_factory.mktemp("prometheus"),
        free_port(),
        f"127.0.0.1:{monitored.api_port}",
        [],
        every=5,  # a scrape refreshes the Prefect figures (METRICS_CACHE_SECONDS=1)
    )
    try:
        yield prom
    finally:
        prom.stop()


# ---------------------------------------------------------------- helpers (Prefect, mail)


async def _alert_runs(run_id: UUID) -> list[Any]:
    """The alertas-operacionais runs started for the flow run ``run_id``."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName

    async with get_client() as client:
        runs = await client.read_flow_runs(
            deployment_filter=DeploymentFilter(
                name=DeploymentFilterName(any_=[ALERT_DEPLOYMENT.split("/")[1]])
            )
        )
    return [r for r in runs if r.parameters.get("recurso") == f"prefect.flow-run.{run_id}"]


def alert_runs(run_id: UUID) -> list[Any]:
    return asyncio.run(_alert_runs(run_id))


async def _failed_events(run_id: UUID) -> list[Any]:
    from prefect.client.orchestration import get_client
    from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter

    async with get_client() as client:
        page = await client.read_events(
            filter=EventFilter(
                event=EventNameFilter(name=["prefect.flow-run.Failed"]),
                resource=EventResourceFilter(id=[f"prefect.flow-run.{run_id}"]),
            ),
            limit=10,  # the client's default (100) is above the server's maximum (50)
        )
    return list(page.events)


async def _emit_again(original: Any) -> None:
    """The same Failed event once more (a new event id, as a redelivery or a second firing)."""
    from prefect.events import Event
    from prefect.events.clients import get_events_client

    again = Event(
        event=original.event,
        resource=original.resource,
        related=original.related,
        payload=original.payload,
    )
    async with get_events_client() as events:
        await events.emit(again)


def ops_rows(run_id: UUID) -> list[Any]:
    from sqlalchemy import select

    from app.db import session_scope
    from models import Notification

    with session_scope() as s:
        rows = s.scalars(
            select(Notification).where(Notification.idempotency_key.like(f"ops:falha:{run_id}:%"))
        ).all()
        return [(r.recipient, r.status, r.template) for r in rows]


def mails_about(mail_dir: Path, run_id: UUID) -> list[Any]:
    from app.notify.email import IDEMPOTENCY_HEADER

    out = []
    for path in sorted(mail_dir.glob("*.eml")):
        msg = message_from_bytes(path.read_bytes(), policy=policy.default)
        if f"ops:falha:{run_id}:" in (msg[IDEMPOTENCY_HEADER] or ""):
            out.append(msg)
    return out


def deliver() -> None:
    fr = run_and_wait(ENVIAR_NOTIFICACOES, {"batch_size": 100}, timeout=300)
    assert fr.state.name == "Completed", fr.state


# ---------------------------------------------------------------- tests


def test_failed_run_alerts_the_operations_contacts_once(monitored: Any, failed_run: Any) -> None:
    run_id = failed_run.id

    (first,) = eventually(
        "a automação notificar-falhas-de-execucao iniciou alertas-operacionais",
        lambda: [r for r in alert_runs(run_id) if r.state and r.state.is_final()],
        lambda runs: len(runs) >= 1,
        300,
    )
    assert first.state.name == "Completed", first.state.message
    assert first.parameters["tipo"] == "falha"
    assert first.work_pool_name == "notificacoes"
    rows = ops_rows(run_id)
    assert sorted(r[0] for r in rows) == sorted(OPS)
    assert {r[2] for r in rows} == {"alerta_operacional"}

    deliver()
    mail_dir = monitored.var_dir / "mail"
    # the sink stores a message before it answers 250: the run's end means every mail is there
    mails = mails_about(mail_dir, run_id)
    assert sorted(m["To"] for m in mails) == sorted(OPS)  # one e-mail per contact, once
    subject = str(mails[0]["Subject"])
    assert "restaurar-backup" in subject and "Failed" in subject, subject
    text = mails[0].get_body(preferencelist=("plain",)).get_content()
    assert str(run_id) in text and "Não há" in text  # the run and its error message

    # The automation fires again on the same event (redelivered): nothing is sent twice.
    (original,) = eventually(
        "evento Failed da execução no servidor",
        lambda: asyncio.run(_failed_events(run_id)),
        lambda events: len(events) == 1,
        60,
    )
    asyncio.run(_emit_again(original))
    runs = eventually(
        "segunda execução de alertas-operacionais",
        lambda: [r for r in alert_runs(run_id) if r.state and r.state.is_final()],
        lambda runs: len(runs) >= 2,
        300,
    )
    assert all(r.state.name == "Completed" for r in runs), [r.state for r in runs]
    assert sorted(r[0] for r in ops_rows(run_id)) == sorted(OPS)  # no new row
    deliver()
    assert sorted(m["To"] for m in mails_about(mail_dir, run_id)) == sorted(OPS)


def _workers_running(platform: Any, pool: str) -> int:
    return sum(1 for p in platform.supervisor.processes if p.name == f"worker-{pool}" and p.alive())


async def _waiting_run(pool: str, since: datetime) -> Any:
    from prefect.client.orchestration import get_client
    from prefect.states import Scheduled

    async with get_client() as client:
        dep = await client.read_deployment_by_name(smoke_deployment(pool))
        return await client.create_flow_run_from_deployment(
            dep.id, parameters={"pool": pool}, state=Scheduled(scheduled_time=since)
        )


async def _read_run(run_id: UUID) -> Any:
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        return await client.read_flow_run(run_id)


async def _delete_run(run_id: UUID) -> None:
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        await client.delete_flow_run(run_id)


def snapshot() -> Any:
    """read_prefect() against the live server; None when a request timed out (loaded host)."""
    import httpx

    from app.monitoring.prefect_source import read_prefect

    try:
        return read_prefect()
    except httpx.HTTPError:
        return None


def test_prefect_figures_match_the_live_server(
    monitored: Any, failed_run: Any, prometheus: Prometheus
) -> None:
    pool = "guias"
    running = {p: _workers_running(monitored, p) for p in POOLS}
    assert running == dict.fromkeys(POOLS, 1)
    calm = eventually(
        "figuras de pool com um worker por pool e nada esperando",
        snapshot,
        lambda s: (
            s is not None
            and s.workers_alive == running
            and s.late_runs[pool] == 0
            and s.queue_lag_seconds[pool] == 0
        ),
        240,
    )
    assert calm.workers_alive == running

    # Runs by final state: the failed restore counts under its deployment, and every deployment
    # has its (zero) series so an alert on it resolves.
    assert calm.final_runs[(RESTAURAR_BACKUP, "FAILED")] == 1
    assert calm.final_runs[(RESTAURAR_BACKUP, "CRASHED")] == 0
    assert calm.final_runs[(ALERT_DEPLOYMENT, "FAILED")] == 0
    assert (smoke_deployment(pool), "CRASHED") in calm.final_runs

    # The pool's worker stops; a run of it has been waiting since two minutes ago.
    since = datetime.now(UTC) - timedelta(seconds=WAITING_SINCE)
    waiting: Any = None
    try:
        with stopped(monitored, f"worker-{pool}"):
            waiting = asyncio.run(_waiting_run(pool, since))
            stuck = eventually(
                f"pool {pool} sem worker vivo e com uma execução Late",
                snapshot,
                lambda s: s is not None and s.workers_alive[pool] == 0 and s.late_runs[pool] == 1,
                300,
            )
            age = (datetime.now(UTC) - since).total_seconds()
            assert WAITING_SINCE <= stuck.queue_lag_seconds[pool] <= age
            for other in POOLS:
                if other != pool:
                    assert stuck.workers_alive[other] == 1, stuck.workers_alive
            # the same figures through the served API, as Prometheus scraped them
            for expr in (
                f'contab_pool_workers_alive{{pool="{pool}"}} == 0',
                f'contab_pool_late_runs{{pool="{pool}"}} == 1',
                f'contab_pool_queue_lag_seconds{{pool="{pool}"}} >= {WAITING_SINCE}',
                'contab_metrics_source_up{source="prefect"} == 1',
            ):
                assert prometheus.wait_series(expr, timeout=90), expr
        # The worker is back: it runs the late run, and the pool is calm again.
        done = eventually(
            "a execução atrasada rodou quando o worker voltou",
            lambda: asyncio.run(_read_run(waiting.id)),
            lambda fr: bool(fr.state and fr.state.is_final()),
            300,
        )
        assert done.state.name == "Completed", done.state.message
        back = eventually(
            f"pool {pool} com worker e sem fila",
            snapshot,
            lambda s: (
                s is not None
                and s.workers_alive[pool] == 1
                and s.late_runs[pool] == 0
                and s.queue_lag_seconds[pool] == 0
            ),
            240,
        )
        assert back.workers_alive == running
        for expr in (
            f'contab_pool_workers_alive{{pool="{pool}"}} == 1',
            f'contab_pool_late_runs{{pool="{pool}"}} == 0',
            f'contab_pool_queue_lag_seconds{{pool="{pool}"}} == 0',
        ):
            assert prometheus.wait_series(expr, timeout=90), expr
    finally:
        if waiting is not None:
            fr = asyncio.run(_read_run(waiting.id))
            if not (fr.state and fr.state.is_final()):
                asyncio.run(_delete_run(waiting.id))  # never left Late for the next tests


def test_prometheus_scrapes_every_family_from_the_platform_api(
    monitored: Any, failed_run: Any, prometheus: Prometheus
) -> None:
    import httpx

    from app.monitoring.exporter import FAMILIES

    httpx.get(f"http://127.0.0.1:{monitored.api_port}/api/live", timeout=10)
    assert prometheus.wait_series('up{job="contab-api"} == 1', timeout=90), "não raspou a API"
    for name, labels in FAMILIES.items():
        metric = name + ("_count" if name.endswith("duration_seconds") else "")
        series = prometheus.wait_series(metric, timeout=60)
        assert series, f"{name} ausente no Prometheus"
        for s in series:
            got = set(s["metric"]) - {"__name__", "job", "instance"}
            assert got == set(labels), (name, s["metric"])
    routes = {
        s["metric"]["route"] for s in prometheus.query("contab_http_request_duration_seconds_count")
    }
    assert "/api/live" in routes, routes
    pools = {s["metric"]["pool"] for s in prometheus.query("contab_pool_workers_alive")}
    assert pools == set(POOLS)
    failed = prometheus.wait_series(
        f'contab_flow_runs_recent{{deployment="{RESTAURAR_BACKUP}",state="Failed"}} == 1',
        timeout=60,
    )
    assert failed, "a execução que falhou não aparece em contab_flow_runs_recent"
    for component in ("database", "redis", "queue", "storage"):
        expr = f'contab_component_up{{component="{component}"}} == 1'
        assert prometheus.wait_series(expr, timeout=60), expr


def test_a_backlog_of_late_runs_alerts_once_per_deployment(monitored: Any) -> None:
    """Month end: many runs of one deployment wait on a pool that does not move. The operations
    team gets one alert for the deployment (with how many runs are late), not one alert run and
    one e-mail per waiting run — bench/workers.py's 500-run backlog had started 136 alert runs."""
    from sqlalchemy import select

    from app.db import session_scope
    from app.prefect_automations import apply_automations
    from models import Notification

    pool, late_runs, window = "guias", 4, 30
    since = datetime.now(UTC) - timedelta(seconds=WAITING_SINCE)
    waiting: list[Any] = []
    apply_automations(env={**monitored.env, "CONTAB_LATE_RUN_ALERT_SECONDS": str(window)})
    try:
        with stopped(monitored, f"worker-{pool}"):
            waiting = [asyncio.run(_waiting_run(pool, since)) for _ in range(late_runs)]
            ids = {f"prefect.flow-run.{r.id}" for r in waiting}

            def alerts() -> list[Any]:
                return [
                    r
                    for r in asyncio.run(_all_alert_runs())
                    if r.parameters.get("tipo") == "atraso" and r.parameters.get("recurso") in ids
                ]

            first = eventually(
                "um alerta de atraso para a implantação",
                alerts,
                lambda runs: any(r.state and r.state.is_final() for r in runs),
                300,
            )
            time.sleep(2 * window)  # every run has been Late for two windows meanwhile
            runs = alerts()
            assert len(runs) == 1, [(r.name, r.parameters["recurso"]) for r in runs]
            assert runs[0].id == first[0].id and runs[0].state.name == "Completed"
            assert runs[0].work_pool_name == "notificacoes"
            with session_scope() as s:
                rows = s.scalars(
                    select(Notification).where(Notification.idempotency_key.like("ops:atraso:%"))
                ).all()
                assert sorted(r.recipient for r in rows) == sorted(OPS)
                details = rows[0].context["detalhes"]
                assert details["execuções atrasadas da implantação"] == late_runs, details
                assert details["pool"] == pool
    finally:
        apply_automations(env=monitored.env)
        for run in waiting:
            fr = asyncio.run(_read_run(run.id))
            if not (fr.state and fr.state.is_final()):
                asyncio.run(_delete_run(run.id))


async def _all_alert_runs() -> list[Any]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName

    async with get_client() as client:
        return await client.read_flow_runs(
            deployment_filter=DeploymentFilter(
                name=DeploymentFilterName(any_=[ALERT_DEPLOYMENT.split("/")[1]])
            )
        )
