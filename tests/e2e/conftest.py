"""End-to-end helpers: trigger deployments and wait for their final state."""

from __future__ import annotations

import asyncio
import time
from typing import Any


def run_and_wait(name: str, parameters: dict[str, Any] | None = None, timeout: float = 120) -> Any:
    """Trigger a deployment by name (as the API does) and poll until the run is final."""
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment

    async def go() -> Any:
        fr = await run_deployment(name, parameters=parameters or {}, timeout=0)  # type: ignore[misc]
        deadline = time.monotonic() + timeout
        async with get_client() as client:
            while time.monotonic() < deadline:
                fr = await client.read_flow_run(fr.id)
                if fr.state and fr.state.is_final():
                    return fr
                await asyncio.sleep(0.5)
        raise AssertionError(f"{name} did not finish in {timeout}s (state {fr.state})")

    return asyncio.run(go())
