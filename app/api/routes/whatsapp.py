"""The WhatsApp Cloud API webhook (public: Meta calls it without a token).

Meta authenticates it with ``X-Hub-Signature-256`` (HMAC-SHA256 of the raw body with
WHATSAPP_APP_SECRET), checked before anything is parsed; a bad signature is 401
``assinatura_invalida``. Delivery statuses then move the notifications (and the guide protocol).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from app.db import session_scope
from app.errors import InvalidInput, PermissionDenied, Unauthenticated
from app.guides.provider_status import record_provider_statuses
from app.notify.webhook import (
    SIGNATURE_HEADER,
    StatusUpdate,
    parse_status_webhook,
    verify_subscription,
    verify_webhook_signature,
)
from app.settings import get_settings

router = APIRouter(tags=["notificacoes"])


class WebhookOut(BaseModel):
    """How many statuses arrived and how many matched a notification."""

    recebidos: int
    registrados: int


@router.get("/whatsapp/webhook", response_class=PlainTextResponse)
def verify(request: Request) -> PlainTextResponse:
    """Meta's subscription handshake: echo ``hub.challenge`` when the verify token matches."""
    token = get_settings().WHATSAPP_VERIFY_TOKEN.get_secret_value()
    challenge = verify_subscription(dict(request.query_params), token)
    if challenge is None:
        raise PermissionDenied(
            "Token de verificação do webhook inválido.", code="verificacao_recusada"
        )
    return PlainTextResponse(challenge)


@router.post("/whatsapp/webhook", response_model=WebhookOut)
async def receive(request: Request) -> WebhookOut:
    """Delivery statuses (sent/delivered/read/failed), signature-verified, then recorded."""
    raw = await request.body()
    secret = get_settings().WHATSAPP_APP_SECRET.get_secret_value()
    if not verify_webhook_signature(secret, raw, request.headers.get(SIGNATURE_HEADER)):
        raise Unauthenticated("Assinatura do webhook inválida.", code="assinatura_invalida")
    try:
        payload: Any = json.loads(raw)
    except ValueError as exc:
        raise InvalidInput("Corpo do webhook não é JSON.", code="webhook_invalido") from exc
    updates = parse_status_webhook(payload)
    # Database work is synchronous: keep it off the event loop.
    return await run_in_threadpool(_record, updates)


def _record(updates: list[StatusUpdate]) -> WebhookOut:
    with session_scope() as session:
        report = record_provider_statuses(session, updates)
    return WebhookOut(recebidos=report.received, registrados=report.matched)
