"""Reading the API's answers in tests without repeating the envelope's shape."""

from __future__ import annotations

from typing import Any


def error_body(response: Any) -> dict[str, Any]:
    """The error object of an API answer (``{"erro": {"codigo", "mensagem", "detalhes"?}}``)."""
    body = response.json()
    assert isinstance(body, dict) and "erro" in body, f"not an error envelope: {body!r}"
    err = body["erro"]
    assert isinstance(err, dict)
    return err


def error_code(response: Any) -> str:
    """The stable error code of an API answer."""
    return str(error_body(response)["codigo"])


def error_message(response: Any) -> str:
    """The pt-BR message of an API answer."""
    return str(error_body(response)["mensagem"])


def error_details(response: Any) -> dict[str, Any]:
    """The details of an API error (``{}`` when it has none)."""
    details = error_body(response).get("detalhes") or {}
    assert isinstance(details, dict)
    return details
