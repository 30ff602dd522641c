"""`teste-de-fumaca`: a trivial flow deployed once per pool, run by `contab smoke`."""

from __future__ import annotations

import socket
import time

from prefect import flow

from tasks.defaults import flow_defaults

MAX_WAIT_SECONDS = 540  # below the flow timeout


@flow(name="teste-de-fumaca", **{**flow_defaults(600), "retries": 0})
def smoke_flow(pool: str = "", segundos: float = 0) -> dict[str, str]:
    """Prove a worker of this pool picks up and completes a run (no retries: it must just work).

    ``segundos`` keeps the run alive that long first, for the dead-run drill that kills it
    meanwhile (docs/operations.md). Its automatic resumption (tag ``retomada``), started with the
    same parameters, does not wait: the drill ends when the resumed run completes.
    """
    from prefect.runtime import flow_run

    if segundos > 0 and "retomada" not in (flow_run.tags or []):
        time.sleep(min(segundos, MAX_WAIT_SECONDS))
    return {"pool": pool, "host": socket.gethostname()}
