"""A guide's status changes outside generation and delivery, and the guide listing.

- An operator registers the official document (amount + barcode/PIX/PDF) → ``pronta``.
- A guide past its due date and unpaid becomes ``vencida``.
- A guide whose obligation stops applying — its tarefa dispensed, or removed by a regime change —
  is cancelled (:func:`cancel_guides`): never sent, never alerted, its queued messages withdrawn;
  generation reopens it (:func:`reopen`) when the tarefa exists again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from app.errors import MISSING_GUIA, Conflict, InvalidInput
from app.fiscal.competencia import Competencia
from app.platform import audit
from models import Guide, GuideEvent, Notification

__all__ = [
    "EDITABLE_STATUSES",
    "cancel_guides",
    "mark_overdue",
    "register_document",
    "reopen",
]

# Statuses generation may still rewrite (the guide was not sent yet).
EDITABLE_STATUSES = ("calculada", "aguardando_documento", "pronta")
OVERDUE_FROM = ("pronta", "enviada", "entregue", "visualizada")

# guides.amount is Numeric(15, 2): 13 integer digits.
MAX_AMOUNT = Decimal("1e13")


def _d(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def cancel_guides(
    session: Session, *, keys: Sequence[tuple[int, int, str]], actor: str, reason: str
) -> list[int]:
    """Cancel the guides of (empresa id, obligation id, competência) whose obligation no longer
    applies; return their ids.

    Each unpaid guide becomes ``cancelada`` (final: never sent, paid or alerted again), with a
    ``cancelada`` protocol event (the status it had) and an audit row; its messages still waiting
    in the outbox are cancelled, so the client never receives a guide the office withdrew. A
    guide already sent is cancelled too (its due-date alerts stop); telling the client is the
    office's call. Paid or already cancelled guides are left alone (idempotent).
    """
    if not keys:
        return []
    match = or_(
        *(
            and_(
                Guide.empresa_id == empresa_id,
                Guide.obligation_id == obligation_id,
                Guide.competencia == str(Competencia.parse(comp)),
            )
            for empresa_id, obligation_id, comp in keys
        )
    )
    found = session.scalars(
        select(Guide)
        .where(match, Guide.status.not_in(("paga", "cancelada")))
        .order_by(Guide.id)
        .with_for_update()
    ).all()
    if not found:
        return []
    for guide in found:
        previous, guide.status = guide.status, "cancelada"
        _recorded(session, guide, "cancelada", actor, {"status_anterior": previous}, reason)
    ids = [g.id for g in found]
    queued = select(GuideEvent.notification_id).where(
        GuideEvent.guide_id.in_(ids), GuideEvent.notification_id.is_not(None)
    )
    # the guide's own messages, and its due-date alerts (keys alerta:guia:{id}:…)
    alerts = or_(*(Notification.idempotency_key.startswith(f"alerta:guia:{i}:") for i in ids))
    session.execute(
        update(Notification)
        .where(or_(Notification.id.in_(queued), alerts), Notification.status == "pendente")
        .values(
            status="cancelada",
            last_error_code="guia_cancelada",
            last_error=f"Guia cancelada: {reason}",
        )
    )
    session.flush()
    return ids


def reopen(session: Session, guide: Guide, actor: str) -> None:
    """Restore a guide :func:`cancel_guides` cancelled to the status it had (event + audit)."""
    cancelled = session.scalars(
        select(GuideEvent)
        .where(GuideEvent.guide_id == guide.id, GuideEvent.kind == "cancelada")
        .order_by(GuideEvent.id.desc())
        .limit(1)
    ).first()
    previous = (cancelled.details or {}).get("status_anterior") if cancelled else None
    if not previous:
        return  # cancelled some other way: stays cancelled
    guide.status = previous
    _recorded(session, guide, "reaberta", actor, {"status": previous})
    session.flush()


def _recorded(
    session: Session,
    guide: Guide,
    kind: str,
    actor: str,
    details: dict[str, Any],
    reason: str | None = None,
) -> None:
    """A status change outside the delivery protocol: a protocol event and an audit row."""
    event = {**details, "motivo": reason} if reason else details
    session.add(
        GuideEvent(guide_id=guide.id, kind=kind, at=datetime.now(UTC), actor=actor, details=event)
    )
    audit.record(
        session,
        actor=actor,
        action=f"guia.{kind}",
        entity="guia",
        entity_id=guide.id,
        empresa_id=guide.empresa_id,
        reason=reason,
        details={**details, "competencia": str(guide.competencia)},
    )


def mark_overdue(session: Session, *, today: date) -> int:
    """Guides past their due date and not paid become ``vencida``; returns how many."""
    res = session.execute(
        update(Guide)
        .where(Guide.due_date < today, Guide.status.in_(OVERDUE_FROM))
        .values(status="vencida")
    )
    return res.rowcount  # type: ignore[attr-defined,no-any-return]


def register_document(
    session: Session,
    *,
    guide_id: int,
    amount: Decimal,
    actor: str,
    barcode: str | None = None,
    pix_code: str | None = None,
    official_file_id: int | None = None,
) -> Guide:
    """Register the official amount and barcode/PIX/PDF of a guide → ``pronta`` (audited)."""
    guide = session.get(Guide, guide_id, with_for_update=True)
    if guide is None:
        raise MISSING_GUIA.error()
    if guide.status not in EDITABLE_STATUSES:
        raise Conflict(
            f"A guia já foi enviada (status {guide.status}); use o reenvio após corrigir.",
            code="guia_ja_enviada",
        )
    if (
        not isinstance(amount, Decimal)
        or not amount.is_finite()
        or amount < 0
        or amount >= MAX_AMOUNT
    ):
        raise InvalidInput("Valor da guia inválido.", code="valor_invalido")
    if not (barcode or pix_code or official_file_id or guide.official_file_id):
        raise InvalidInput(
            "Informe a linha digitável, o PIX ou o documento oficial da guia.",
            code="guia_sem_documento",
        )
    before = {"valor": _d(guide.amount), "status": guide.status}
    guide.amount = amount.quantize(Decimal("0.01"))
    guide.barcode = barcode or guide.barcode
    guide.pix_code = pix_code or guide.pix_code
    guide.official_file_id = official_file_id or guide.official_file_id
    guide.failure_reason = None
    guide.pdf_file_id = None  # the office PDF shows amount/barcode: re-rendered at send time
    guide.status = "pronta"
    audit.record(
        session,
        actor=actor,
        action="guia.documento_registrado",
        entity="guia",
        entity_id=guide.id,
        empresa_id=guide.empresa_id,
        details={"antes": before, "valor": str(guide.amount), "arquivo": official_file_id},
    )
    return guide
