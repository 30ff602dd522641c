"""Notifications (office only): the outbox with its attempts, and re-queueing a failed one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from app.api.deps import DbSession, OfficePrincipal, Page, office_only
from app.api.schemas import Pagina, page
from app.notifications.outbox import list_notifications, requeue

router = APIRouter(tags=["notificacoes"], dependencies=[Depends(office_only)])


class NotificacaoOut(BaseModel):
    """A notification as operators see it."""

    id: int
    chave_idempotencia: str
    empresa_id: int | None
    canal: str
    destinatario: str
    modelo: str
    status: str
    tentativas: int
    maximo_tentativas: int
    proxima_tentativa_em: datetime
    id_no_provedor: str | None
    enviada_em: datetime | None
    ultimo_erro_codigo: str | None
    ultimo_erro: str | None
    criada_em: datetime

    @classmethod
    def of(cls, n: Any) -> NotificacaoOut:
        """From a ``Notification`` row."""
        return cls(
            id=n.id, chave_idempotencia=n.idempotency_key, empresa_id=n.empresa_id,
            canal=n.channel, destinatario=n.recipient, modelo=n.template, status=n.status,
            tentativas=n.attempts, maximo_tentativas=n.max_attempts,
            proxima_tentativa_em=n.next_attempt_at, id_no_provedor=n.provider_id,
            enviada_em=n.sent_at, ultimo_erro_codigo=n.last_error_code, ultimo_erro=n.last_error,
            criada_em=n.created_at,
        )  # fmt: skip


class RequeueIn(BaseModel):
    """Why the operator re-queues (recorded in the audit trail)."""

    motivo: str | None = None


@router.get("/notificacoes", response_model=Pagina[NotificacaoOut])
def list_(
    session: DbSession, paging: Page, status: str | None = None, empresa_id: int | None = None
) -> Pagina[NotificacaoOut]:
    """Notifications by status and empresa, newest first."""
    total, rows = list_notifications(
        session, status=status, empresa_id=empresa_id, limit=paging.limite,
        offset=paging.deslocamento,
    )  # fmt: skip
    return page([NotificacaoOut.of(r) for r in rows], total, paging)


@router.post("/notificacoes/{notification_id}/reenfileirar", response_model=NotificacaoOut)
def requeue_(
    notification_id: int,
    principal: OfficePrincipal,
    session: DbSession,
    body: RequeueIn | None = None,
) -> NotificacaoOut:
    """Put a failed notification back in the queue (audited); the next minute's run sends it."""
    row = requeue(
        session,
        notification_id=notification_id,
        actor=principal.actor,
        reason=body.motivo if body else None,
    )
    return NotificacaoOut.of(row)
