"""Rows of the shipped obligation catalogue for tests that need one obligation, not all of it."""

from __future__ import annotations

from app.fiscal.obligations import load_catalogue
from models import Obligation

__all__ = ["catalogue_row"]


def catalogue_row(code: str) -> Obligation:
    """The catalogue entry ``code`` as an unsaved ``obligations`` row (the fields
    ``app.obligations.catalogue.sync_catalogue`` writes for it)."""
    ob = load_catalogue().get(code)
    return Obligation(
        code=ob.code,
        name=ob.name,
        rule=ob.model_dump(mode="json"),
        department=ob.department,
        generates_guide=ob.generates_guide,
    )
