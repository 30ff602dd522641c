"""Per-object scope without an existence oracle.

A client token (one empresa) asking for another empresa's object by id gets exactly the answer
of an id that does not exist — the same 404, code and message — so ids of other empresas cannot
be probed. Office tokens see every object. Acting on a *collection* of another empresa
(``?empresa_id=`` of a listing, an upload for it) stays a 403 ``empresa_fora_do_escopo``
(:meth:`Principal.check_empresa`): it answers the same for existing and unknown empresas, so it
reveals nothing, and office-only routes stay a 403 ``somente_escritorio`` for any client.
"""

from __future__ import annotations

from app.errors import (
    MISSING_DOCUMENTO,
    MISSING_EMPRESA,
    MISSING_GUIA,
    MISSING_SOLICITACAO,
    MISSING_TAREFA,
    MISSING_UPLOAD,
    Missing,
)
from app.services.tokens import Principal

__all__ = [
    "DOCUMENTO",
    "EMPRESA",
    "GUIA",
    "SOLICITACAO",
    "TAREFA",
    "UPLOAD",
    "Missing",
    "ensure_visible",
]


# The kinds' 404s are defined once, in app.errors, and raised by the services for missing ids.
EMPRESA = MISSING_EMPRESA
DOCUMENTO = MISSING_DOCUMENTO
UPLOAD = MISSING_UPLOAD
GUIA = MISSING_GUIA
TAREFA = MISSING_TAREFA
SOLICITACAO = MISSING_SOLICITACAO


def ensure_visible(principal: Principal, empresa_id: int, missing: Missing) -> None:
    """Raise ``missing`` (404) unless the caller may see an object of ``empresa_id``."""
    if not principal.is_office and principal.empresa_id != empresa_id:
        raise missing.error()
