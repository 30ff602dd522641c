"""The upload dispatcher's Prefect side: start a drain run, read a run's state, run the loop.

The loop itself (:class:`app.documents.dispatch.Dispatcher`) is plain Python; it runs as a
daemon thread of the API process (started by the app's lifespan) or alone (``contab
dispatcher``). Only here does it touch the Prefect API, never inside a request.
"""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

from app.deployments import PROCESSAR_PEDIDOS, PROCESSAR_UPLOAD_XML
from app.documents.dispatch import Dispatcher

__all__ = ["make_dispatcher", "run_state", "start_drainer", "start_orders", "start_thread"]

log = logging.getLogger("contab.api.dispatcher")
_deployment_id: dict[str, uuid.UUID] = {}
# Each call is one or two round-trips; a hung server must not hold the loop for a minute.
_HTTPX = {"timeout": 10.0}


def _client() -> Any:
    from prefect.client.orchestration import get_client

    return get_client(sync_client=True, httpx_settings=_HTTPX)


def _start(name: str) -> str:
    """Create a run of deployment ``name`` with no parameters; return its id."""
    with _client() as client:
        dep = _deployment_id.get(name)
        if dep is None:
            dep = _deployment_id[name] = client.read_deployment_by_name(name).id
        try:
            fr = client.create_flow_run_from_deployment(dep, parameters={})
        except Exception:
            _deployment_id.clear()  # redeployed under a new id: look it up again next time
            raise
    return str(fr.id)


def start_drainer() -> str:
    """Create a drain run of ``processar-upload-xml`` (no parameters); return its id."""
    return _start(PROCESSAR_UPLOAD_XML)


def start_orders() -> str:
    """Create a run of ``processar-pedidos`` (every order with work left); return its id."""
    return _start(PROCESSAR_PEDIDOS)


def run_state(run_id: str) -> tuple[str, float] | None:
    """The run's state type (``SCHEDULED``, ``RUNNING`` …) and seconds in it; None if unknown."""
    from prefect.exceptions import ObjectNotFound

    with _client() as client:
        try:
            state = client.read_flow_run(uuid.UUID(run_id)).state
        except (ObjectNotFound, ValueError):
            return None
    if state is None:
        return None
    return state.type.value, (datetime.now(UTC) - state.timestamp).total_seconds()


def make_dispatcher() -> Dispatcher:
    """A dispatcher that starts runs through the Prefect API (drain runs and processar-pedidos)."""
    return Dispatcher(start_run=start_drainer, run_state=run_state, start_orders=start_orders)


def start_thread() -> threading.Event:
    """Run a dispatcher in a daemon thread; set the returned event to stop it."""
    stop = threading.Event()
    thread = threading.Thread(
        target=make_dispatcher().run_forever, args=(stop,), name="upload-dispatcher", daemon=True
    )
    thread.start()
    log.info("upload dispatcher started")
    return stop
