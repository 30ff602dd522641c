"""Errors → Sentry: initialised from ``SENTRY_DSN`` (environment ``APP_ENV``, release
``APP_VERSION``) in the API (at app creation) and in flow runs (the shared flow defaults' failure
hook, tasks/defaults.py), with personal data scrubbed before anything leaves the process.

LGPD (Lei 13.709/2018, art. 6º III and art. 46) asks for the minimum data and for measures that
protect it: an error report needs the stack and the code path, not the client's CNPJ/CPF, e-mail,
phone, API token or document contents. So ``send_default_pii`` is off, request bodies are never
attached (``max_request_body_size="never"``), headers/cookies/query strings are dropped, local
variables are not sent, and every string left in the event goes through :func:`scrub`.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from app.settings import get_settings

__all__ = ["capture_flow_failure", "init_sentry", "scrub", "scrub_event"]

_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bctb_[A-Za-z0-9_\-]+"), "[token]"),
    (re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._\-~+/=]+"), "Bearer [token]"),
    (re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}"), "[e-mail]"),
    (re.compile(r"\b\d{2}\.\d{3}\.\d{3}/\d{4}-\d{2}\b"), "[cnpj]"),
    (re.compile(r"\b\d{3}\.\d{3}\.\d{3}-\d{2}\b"), "[cpf]"),
    # phones: +55 (11) 99999-9999, (11) 3333-4444, 11 99999 9999
    (re.compile(r"(?:\+?55[\s-]?)?\(?\b\d{2}\)?[\s-]?9?\d{4}[\s-]\d{4}\b"), "[telefone]"),
    # bare CNPJ (14), CPF (11), phone with DDI (12–13) digits, NF-e keys (44)
    (re.compile(r"\b\d{44}\b"), "[chave]"),
    (re.compile(r"\b\d{11,14}\b"), "[numero]"),
)
# Keys whose value is content or credentials, whatever it looks like.
_DROP_KEYS = frozenset(
    {"data", "cookies", "headers", "query_string", "env", "body", "authorization", "vars"}
)
_lock = threading.Lock()
_initialised: dict[str, bool] = {}


def scrub(text: str) -> str:
    """The text with CNPJ/CPF, e-mails, phones, tokens and long digit runs masked."""
    for pattern, repl in _RULES:
        text = pattern.sub(repl, text)
    return text


def _walk(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: _walk(v) for k, v in value.items() if str(k).lower() not in _DROP_KEYS}
    if isinstance(value, list | tuple):
        return [_walk(v) for v in value]
    return value


def scrub_event(event: dict[str, Any], _hint: Any = None) -> dict[str, Any]:
    """``before_send``: the request keeps only method and URL (scrubbed); the user only an id;
    every other string is scrubbed and content keys are removed."""
    request = event.get("request")
    if isinstance(request, dict):
        event["request"] = {k: request[k] for k in ("method", "url") if k in request}
    if isinstance(event.get("user"), dict):
        event["user"] = {k: v for k, v in event["user"].items() if k == "id"}
    out: dict[str, Any] = _walk(event)
    return out


def init_sentry(component: str) -> bool:
    """Initialise the SDK once per process when SENTRY_DSN is set (``component``: api|flow)."""
    s = get_settings()
    dsn = s.SENTRY_DSN.get_secret_value()
    if not dsn:
        return False
    with _lock:
        if _initialised.get(dsn):
            return True
        import sentry_sdk

        sentry_sdk.init(
            dsn=dsn,
            environment=s.APP_ENV,
            release=f"contab@{s.APP_VERSION}",
            send_default_pii=False,
            max_request_body_size="never",
            include_local_variables=False,
            traces_sample_rate=s.SENTRY_TRACES_SAMPLE_RATE,
            before_send=scrub_event,  # type: ignore[arg-type]
            before_send_transaction=scrub_event,  # type: ignore[arg-type]
        )
        sentry_sdk.set_tag("component", component)
        _initialised.clear()
        _initialised[dsn] = True
    return True


def capture_flow_failure(flow_name: str, flow_run: Any, state: Any) -> None:
    """Report a flow run that ended Failed/Crashed (Prefect on_failure/on_crashed hook)."""
    if not init_sentry("flow"):
        return
    import sentry_sdk

    try:
        exc = state.result(raise_on_failure=False)
    except Exception as err:  # noqa: BLE001 - the result may be unreadable (crash)
        exc = err
    with sentry_sdk.new_scope() as scope:
        scope.set_tag("component", "flow")
        scope.set_tag("flow", flow_name)
        scope.set_tag("flow_run_id", str(getattr(flow_run, "id", "")))
        scope.set_tag("state", str(getattr(state, "type", "")))
        if isinstance(exc, BaseException):
            sentry_sdk.capture_exception(exc)
        else:
            sentry_sdk.capture_message(f"{flow_name}: {getattr(state, 'message', '')}", "error")
    sentry_sdk.flush(timeout=5)
