"""Audit trail: who did what, when and why (kept 7 years; cleanup never touches it)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from models import AuditLog

__all__ = ["record"]


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    entity: str,
    entity_id: object = None,
    empresa_id: int | None = None,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditLog:
    """Add one audit row to the caller's transaction."""
    row = AuditLog(
        actor=actor,
        action=action,
        entity=entity,
        entity_id=None if entity_id is None else str(entity_id),
        empresa_id=empresa_id,
        reason=reason,
        details=details or {},
    )
    session.add(row)
    return row
