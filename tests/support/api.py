"""Reading the API's answers in tests without repeating the envelope's shape."""

from __future__ import annotations

from typing import Any


def error_body(response: Any) -> dict[str, Any]:
    """The error object of an API answer (``{"error": {...}}``)."""
    body = response.json()
    assert isinstance(body, dict) and "error" in body, f"not an error envelope: {body!r}"
    err = body["error"]
    assert isinstance(err, dict)
    return err


def error_code(response: Any) -> str:
    """The stable error code of an API answer."""
    return str(error_body(response)["code"])


def error_message(response: Any) -> str:
    """The pt-BR message of an API answer."""
    return str(error_body(response)["message"])
