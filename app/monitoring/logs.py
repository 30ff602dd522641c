"""Logs: one JSON object per line, and ``LOG_CHANNEL`` honoured as the guide names it.

Every line carries ``ts``, ``level``, ``logger``, ``message`` and, when known, ``request_id``
(the API request, see app/monitoring/http.py), ``flow_run_id``, ``flow`` and ``pool`` (the flow
run being executed) and ``exc`` (the formatted exception).

Channels (the names of the guide's Laravel-style ``LOG_CHANNEL``):

- ``stack``  — console (JSON on stderr) and shipping to Loki when ``LOKI_URL`` is set;
- ``single`` — one file, ``LOG_DIR/contab.log``;
- ``daily``  — one file per day, ``LOG_RETENTION_DAYS`` kept;
- ``stderr`` — console only;  ``loki`` — Loki only;  ``null`` — nothing.

Loki receives the lines through its HTTP push API (``POST /loki/api/v1/push``, JSON streams), in
batches from a background thread, labelled only with bounded values (app, env, component,
level); the run and request ids stay in the line, where LogQL filters find them
(``{app="contab"} |= "<flow-run-id>"`` or ``| json | flow_run_id="…"``).
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
import queue
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from app.monitoring.context import REQUEST_ID
from app.settings import PROJECT_ROOT, get_settings

__all__ = ["CHANNELS", "JsonFormatter", "LokiHandler", "configure_logging", "run_context"]

CHANNELS = ("stack", "single", "daily", "stderr", "loki", "null")
_OURS = "_contab_handler"  # attribute marking the handlers configure_logging installed
_STD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


def run_context() -> dict[str, str]:
    """The flow run this process is executing (Prefect's context when it is loaded, else the
    worker's environment); empty outside a run. No import: app/ stays framework-free."""
    out: dict[str, str] = {}
    ctx_mod = sys.modules.get("prefect.context")
    ctx = ctx_mod.FlowRunContext.get() if ctx_mod is not None else None
    run = getattr(ctx, "flow_run", None)
    if run is not None:
        out["flow_run_id"] = str(run.id)
        if getattr(run, "work_pool_name", None):
            out["pool"] = str(run.work_pool_name)
        flow = getattr(ctx, "flow", None)
        if flow is not None:
            out["flow"] = str(flow.name)
    elif os.environ.get("PREFECT__FLOW_RUN_ID"):
        out["flow_run_id"] = os.environ["PREFECT__FLOW_RUN_ID"]
    return out


class JsonFormatter(logging.Formatter):
    """One JSON object per record (UTF-8, no newline inside)."""

    def __init__(self, component: str = "") -> None:
        super().__init__()
        self.component = component

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if self.component:
            data["component"] = self.component
        rid = REQUEST_ID.get()
        if rid:
            data["request_id"] = rid
        data.update(run_context())
        # Prefect's run loggers put the run in the record itself (flow_run_id, flow_name, …)
        for key, value in record.__dict__.items():
            if key not in _STD and not key.startswith("_") and key not in data:
                data[key] = value if isinstance(value, str | int | float | bool) else str(value)
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, default=str)


class LokiHandler(logging.Handler):
    """Ship formatted lines to Loki's push API in batches (never blocks the caller; a Loki that
    is down costs dropped lines — counted in ``dropped`` — never a stuck process)."""

    def __init__(
        self,
        url: str,
        labels: dict[str, str],
        *,
        batch: int = 200,
        interval: float = 1.0,
        capacity: int = 10_000,
        timeout: float = 5.0,
    ) -> None:
        super().__init__()
        self.push_url = url.rstrip("/") + "/loki/api/v1/push"
        self.labels = labels
        self.batch, self.interval, self.timeout = batch, interval, timeout
        self.queue: queue.Queue[tuple[str, str, str]] = queue.Queue(capacity)
        self.dropped = 0
        self._idle = threading.Event()
        self._idle.set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="loki-push", daemon=True)
        self._thread.start()

    def emit(self, record: logging.LogRecord) -> None:
        if threading.current_thread() is self._thread:
            return  # the push's own HTTP client logs: shipping them would feed back forever
        try:
            line = self.format(record)
            self._idle.clear()
            self.queue.put_nowait((str(time.time_ns()), record.levelname.lower(), line))
        except queue.Full:
            self.dropped += 1
        except Exception:  # noqa: BLE001 - logging must never raise into the caller
            self.handleError(record)

    def _take(self) -> list[tuple[str, str, str]]:
        items: list[tuple[str, str, str]] = []
        try:
            items.append(self.queue.get(timeout=self.interval))
            while len(items) < self.batch:
                items.append(self.queue.get_nowait())
        except queue.Empty:
            pass
        return items

    def _push(self, items: list[tuple[str, str, str]]) -> None:
        streams: dict[str, list[list[str]]] = {}
        for ts, level, line in items:
            streams.setdefault(level, []).append([ts, line])
        body: dict[str, Any] = {
            "streams": [
                {"stream": dict(self.labels, level=level), "values": values}
                for level, values in streams.items()
            ]
        }
        try:
            httpx.post(self.push_url, json=body, timeout=self.timeout).raise_for_status()
        except httpx.HTTPError:
            self.dropped += len(items)

    def _run(self) -> None:
        while not self._stop.is_set() or not self.queue.empty():
            items = self._take()
            if items:
                self._push(items)
            if self.queue.empty():
                self._idle.set()

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until every queued line was pushed (or ``timeout``)."""
        self._idle.wait(timeout)

    def close(self) -> None:
        self.flush()
        self._stop.set()
        self._thread.join(self.interval + self.timeout + 1)
        super().close()


def _log_dir() -> Path:
    d = Path(get_settings().LOG_DIR)
    d = d if d.is_absolute() else PROJECT_ROOT / d
    d.mkdir(parents=True, exist_ok=True)
    return d


def _handlers(channel: str, component: str) -> list[logging.Handler]:
    s = get_settings()
    labels = {"app": "contab", "env": s.APP_ENV, "component": component}
    out: list[logging.Handler] = []
    if channel in ("stack", "stderr"):
        out.append(logging.StreamHandler(sys.stderr))
    if channel in ("stack", "loki") and s.LOKI_URL:
        out.append(LokiHandler(s.LOKI_URL, labels))
    if channel == "single":
        out.append(logging.FileHandler(_log_dir() / "contab.log", encoding="utf-8"))
    if channel == "daily":
        out.append(
            logging.handlers.TimedRotatingFileHandler(
                _log_dir() / "contab.log",
                when="midnight",
                backupCount=s.LOG_RETENTION_DAYS,
                encoding="utf-8",
                utc=True,
            )
        )
    return out


def configure_logging(component: str, channel: str | None = None) -> list[logging.Handler]:
    """Install the channel's handlers on the root logger (replacing ones installed before, so
    it is idempotent), JSON-formatted; returns them. ``component``: api | flow | worker | cli."""
    s = get_settings()
    chosen = (channel or s.LOG_CHANNEL).strip().lower()
    if chosen not in CHANNELS:
        raise ValueError(f"LOG_CHANNEL desconhecido: {chosen!r} (use {', '.join(CHANNELS)})")
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _OURS, False)]:
        root.removeHandler(old)
        old.close()
    formatter = JsonFormatter(component)
    handlers = _handlers(chosen, component)
    if any(isinstance(h, logging.StreamHandler) for h in root.handlers):
        # a flow run's process already prints through Prefect's console handler (shown in its
        # UI and the worker's output): ours would print every line twice
        handlers = [h for h in handlers if type(h) is not logging.StreamHandler]
    for h in handlers:
        h.setFormatter(formatter)
        setattr(h, _OURS, True)
        root.addHandler(h)
    root.setLevel(s.LOG_LEVEL)
    logging.getLogger("contab").setLevel(s.LOG_LEVEL)
    return handlers
