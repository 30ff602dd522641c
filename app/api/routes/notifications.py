"""Notifications: the office's view of the outbox, re-queueing, and the WhatsApp webhook.

The webhook (``/api/whatsapp/webhook``) carries no token: Meta authenticates it with
``X-Hub-Signature-256`` (HMAC-SHA256 of the raw body with WHATSAPP_APP_SECRET), checked before
anything is parsed; a bad signature is 401 ``assinatura_invalida``.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict
from starlette.concurrency import run_in_threadpool

from app.api.deps import CurrentPrincipal, DbSession
from app.db import session_scope
from app.errors import InvalidInput, PermissionDenied, Unauthenticated
from app.guides.provider_status import record_provider_statuses
from app.notifications.outbox import list_notifications, requeue
from app.notify.webhook import (
    SIGNATURE_HEADER,
    StatusUpdate,
    parse_status_webhook,
    verify_subscription,
    verify_webhook_signature,
)
from app.platform.tokens import require_office
from app.settings import get_settings

router = APIRouter(tags=["notificacoes"])


class NotificationOut(BaseModel):
    """A notification as operators see it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    idempotency_key: str
    empresa_id: int | None
    channel: str
    recipient: str
    template: str
    status: str
    attempts: int
    max_attempts: int
    next_attempt_at: datetime
    provider_id: str | None
    sent_at: datetime | None
    last_error_code: str | None
    last_error: str | None
    created_at: datetime


class NotificationPage(BaseModel):
    """One page of notifications and the total matching the filters."""

    total: int
    items: list[NotificationOut]


class RequeueIn(BaseModel):
    """Why the operator re-queues (recorded in the audit trail)."""

    motivo: str | None = None


@router.get("/api/notificacoes", response_model=NotificationPage)
def list_(
    principal: CurrentPrincipal,
    session: DbSession,
    status: str | None = None,
    empresa_id: int | None = None,
    limit: int = Query(100, ge=1, le=500),
    offset: int = Query(0, ge=0),
) -> NotificationPage:
    """Notifications by status and empresa, newest first (office tokens)."""
    require_office(principal)
    total, rows = list_notifications(
        session, status=status, empresa_id=empresa_id, limit=limit, offset=offset
    )
    return NotificationPage(total=total, items=[NotificationOut.model_validate(r) for r in rows])


@router.post("/api/notificacoes/{notification_id}/reenfileirar", response_model=NotificationOut)
def requeue_(
    notification_id: int,
    principal: CurrentPrincipal,
    session: DbSession,
    body: RequeueIn | None = None,
) -> NotificationOut:
    """Put a failed notification back in the queue (audited); the next minute's run sends it."""
    require_office(principal)
    row = requeue(
        session,
        notification_id=notification_id,
        actor=principal.actor,
        reason=body.motivo if body else None,
    )
    return NotificationOut.model_validate(row)


@router.get("/api/whatsapp/webhook", response_class=PlainTextResponse)
def verify(request: Request) -> PlainTextResponse:
    """Meta's subscription handshake: echo ``hub.challenge`` when the verify token matches."""
    token = get_settings().WHATSAPP_VERIFY_TOKEN.get_secret_value()
    challenge = verify_subscription(dict(request.query_params), token)
    if challenge is None:
        raise PermissionDenied(
            "Token de verificação do webhook inválido.", code="verificacao_recusada"
        )
    return PlainTextResponse(challenge)


@router.post("/api/whatsapp/webhook")
async def receive(request: Request) -> dict[str, Any]:
    """Delivery statuses (sent/delivered/read/failed), signature-verified, then recorded."""
    raw = await request.body()
    secret = get_settings().WHATSAPP_APP_SECRET.get_secret_value()
    if not verify_webhook_signature(secret, raw, request.headers.get(SIGNATURE_HEADER)):
        raise Unauthenticated("Assinatura do webhook inválida.", code="assinatura_invalida")
    try:
        payload = json.loads(raw)
    except ValueError as exc:
        raise InvalidInput("Corpo do webhook não é JSON.", code="webhook_invalido") from exc
    updates = parse_status_webhook(payload)
    # Database work is synchronous: keep it off the event loop.
    return await run_in_threadpool(_record, updates)


def _record(updates: list[StatusUpdate]) -> dict[str, Any]:
    with session_scope() as session:
        report = record_provider_statuses(session, updates)
    return {"recebidos": report.received, "registrados": report.matched}
