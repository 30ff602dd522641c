"""Empresa scope of the caller: which objects it sees, which listings it may filter.

No existence oracle: a client token (one empresa) asking for another empresa's object by id gets
exactly the answer of an id that does not exist — the same 404, code and message — so ids of
other empresas cannot be probed. Office tokens see every object. Acting on a *collection* of
another empresa (``?empresa_id=`` of a listing, an upload for it) stays a 403
``empresa_fora_do_escopo`` (:meth:`Principal.check_empresa`): it answers the same for existing
and unknown empresas, so it reveals nothing, and office-only routes stay a 403
``somente_escritorio`` for any client.
"""

from __future__ import annotations

from typing import Protocol, TypeVar

from app.errors import Missing
from app.platform.tokens import Principal

__all__ = ["empresa_filter", "ensure_visible", "visible"]


class _OfEmpresa(Protocol):
    @property
    def empresa_id(self) -> int: ...


T = TypeVar("T", bound=_OfEmpresa)


def ensure_visible(principal: Principal, empresa_id: int, missing: Missing) -> None:
    """Raise ``missing`` (404) unless the caller may see an object of ``empresa_id``."""
    if not principal.is_office and principal.empresa_id != empresa_id:
        raise missing.error()


def visible(principal: Principal, obj: T, missing: Missing) -> T:
    """``obj`` when the caller may see it; ``missing`` (404, as if absent) otherwise."""
    ensure_visible(principal, obj.empresa_id, missing)
    return obj


def empresa_filter(principal: Principal, empresa_id: int | None) -> int | None:
    """The empresa a listing is limited to: the one asked for (403 ``empresa_fora_do_escopo``
    when the caller may not act for it), a client token's own, or None (office: every one)."""
    if empresa_id is not None:
        principal.check_empresa(empresa_id)
    return empresa_id if principal.is_office else principal.empresa_id
