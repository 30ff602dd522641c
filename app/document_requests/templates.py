"""Request templates: what each regime's monthly request asks for (shipped as data).

``app/fiscal/data/request_templates.toml`` lists the items per regime; :func:`seed_templates`
inserts the missing ones and keeps an operator's edits.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session

from app.sqlcompat import insert_ignore
from models import RequestTemplate

__all__ = ["seed_templates"]


class _Template(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    code: str
    description: str
    regimes: tuple[str, ...]
    requires: str | None = None
    documents: dict[str, Any] | None = None


class _TemplateFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    version: str
    template: tuple[_Template, ...]


def _shipped_templates() -> _TemplateFile:
    raw = resources.files("app.fiscal").joinpath("data/request_templates.toml").read_text("utf-8")
    return _TemplateFile.model_validate(tomllib.loads(raw))


def seed_templates(session: Session) -> int:
    """Insert the shipped templates that are missing (an operator's edits are kept)."""
    rows = []
    for t in _shipped_templates().template:
        rule: dict[str, Any] = {}
        if t.requires:
            rule["requires"] = t.requires
        if t.documents:
            rule["documents"] = t.documents
        for regime in t.regimes:
            rows.append(
                {"regime": regime, "code": t.code, "description": t.description, "rule": rule}
            )
    return len(insert_ignore(session, RequestTemplate, rows, index_elements=["regime", "code"]))
