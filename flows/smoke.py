"""`teste-de-fumaca`: a trivial flow deployed once per pool, run by `contab smoke`."""

from __future__ import annotations

import socket

from prefect import flow

from tasks.defaults import flow_defaults


@flow(name="teste-de-fumaca", **{**flow_defaults(60), "retries": 0})
def smoke_flow(pool: str = "") -> dict[str, str]:
    """Prove a worker of this pool picks up and completes a run (no retries: it must just work)."""
    return {"pool": pool, "host": socket.gethostname()}
