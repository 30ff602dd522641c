"""Per-object scope without an existence oracle.

A client token (one empresa) asking for another empresa's object by id gets exactly the answer
of an id that does not exist — the same 404, code and message — so ids of other empresas cannot
be probed. Office tokens see every object. Acting on a *collection* of another empresa
(``?empresa_id=`` of a listing, an upload for it) stays a 403 ``empresa_fora_do_escopo``
(:meth:`Principal.check_empresa`): it answers the same for existing and unknown empresas, so it
reveals nothing, and office-only routes stay a 403 ``somente_escritorio`` for any client.
"""

from __future__ import annotations

from app.errors import Missing
from app.platform.tokens import Principal

__all__ = ["ensure_visible"]


def ensure_visible(principal: Principal, empresa_id: int, missing: Missing) -> None:
    """Raise ``missing`` (404) unless the caller may see an object of ``empresa_id``."""
    if not principal.is_office and principal.empresa_id != empresa_id:
        raise missing.error()
