"""processar-pedidos is started by the dispatcher when an order asks for it, not every minute.

Real Redis and database; the Prefect side (starting a run, reading its state) is given to the
dispatcher as two callables, as the API glue does, here recording what they were asked."""

from __future__ import annotations

from typing import Any

from app.documents.dispatch import Dispatcher, orders_key
from tests.api.conftest import auth

PDF = ("cnd.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF", "application/pdf")


class _Prefect:
    """Runs 'created' by the dispatcher and the state each one is in."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.states: dict[str, str] = {}
        self.down = False

    def start(self) -> str:
        if self.down:
            raise ConnectionError("Prefect fora do ar")
        run = f"run-{len(self.started) + 1}"
        self.started.append(run)
        self.states[run] = "SCHEDULED"
        return run

    def state(self, run: str) -> tuple[str, float] | None:
        return (self.states[run], 1.0) if run in self.states else None


def _dispatcher(prefect: _Prefect) -> Dispatcher:
    return Dispatcher(start_run=prefect.start, run_state=prefect.state, start_orders=prefect.start)


def _open(api: Any, seeded: dict[str, Any]) -> None:
    r = api.post(
        f"/api/empresas/{seeded['a']}/pedidos",
        data={"tipo": "certidao_negativa", "descricao": "Certidão para licitação"},
        files=[("anexos", PDF)],
        headers=auth(seeded["client"]),
    )
    assert r.status_code == 201, r.text


def test_an_order_starts_one_run_and_a_run_not_begun_covers_the_next(
    api_client: Any, seeded: dict[str, Any], redis_client: Any
) -> None:
    # an order opened by an earlier test of tests/api left the flag (and maybe a leader) behind:
    # this test starts from an office where nothing has asked for a run yet
    redis_client.flushdb()
    prefect = _Prefect()
    d = _dispatcher(prefect)
    assert d.tick_orders(min_interval=0) == "idle"  # nothing asked: no run (was: one a minute)
    _open(api_client, seeded)
    assert redis_client.exists(orders_key())
    assert d.tick_orders(min_interval=0) == "started"
    assert prefect.started == ["run-1"] and not redis_client.exists(orders_key())
    assert d.tick_orders(min_interval=0) == "idle"  # the flag was consumed: no second run
    # another order while run-1 has not begun: run-1 reads it when it starts
    _open(api_client, seeded)
    assert d.tick_orders(min_interval=0) == "covered"
    assert prefect.started == ["run-1"] and not redis_client.exists(orders_key())
    # attachments added once run-1 is running: a new run (run-1 may have read the orders)
    prefect.states["run-1"] = "RUNNING"
    r = api_client.post(
        _last_order_attach(api_client, seeded),
        files=[("anexos", PDF)],
        headers=auth(seeded["client"]),
    )
    assert r.status_code == 200, r.text
    assert d.tick_orders(min_interval=0) == "started"
    assert prefect.started == ["run-1", "run-2"]


def _last_order_attach(api: Any, seeded: dict[str, Any]) -> str:
    orders = api.get("/api/pedidos", headers=auth(seeded["client"])).json()["itens"]
    return f"/api/pedidos/{orders[0]['id']}/anexos"


def test_prefect_down_keeps_the_request_until_a_run_is_created(
    api_client: Any, seeded: dict[str, Any], redis_client: Any
) -> None:
    prefect = _Prefect()
    prefect.down = True
    d = _dispatcher(prefect)
    _open(api_client, seeded)
    assert d.tick_orders(min_interval=0) == "error"
    assert redis_client.exists(orders_key())  # kept for the next try
    assert d.tick_orders(min_interval=0) == "backoff"
    prefect.down = False
    d.orders_retry_at = 0.0  # the backoff (2 s) has passed
    assert d.tick_orders(min_interval=0) == "started"
    assert prefect.started == ["run-1"] and not redis_client.exists(orders_key())


def test_looks_at_most_once_per_interval(redis_client: Any, seeded: dict[str, Any]) -> None:
    prefect = _Prefect()
    d = _dispatcher(prefect)
    assert d.tick_orders() == "idle"
    assert d.tick_orders() == "skip"  # an upload burst wakes the loop often: one look a second
