"""Notification tasks: deliver one outbox batch; queue the day's due-date alerts."""

from __future__ import annotations

from datetime import date, timedelta

from prefect import task

from app.cache import get_redis
from app.db import session_scope
from app.guides.provider_status import follow_statuses
from app.notifications.delivery import Senders, deliver_batch
from app.notify.factory import email_channel, email_limiter, whatsapp_channel
from app.obligations.alerts import queue_due_alerts
from app.settings import get_settings
from app.storage import get_storage
from tasks.defaults import TASK_DEFAULTS

__all__ = ["queue_alerts", "send_notifications_batch"]


@task(name="enviar-lote-de-notificacoes", **TASK_DEFAULTS)
def send_notifications_batch(limit: int = 500, lease_seconds: int = 600) -> dict[str, int]:
    """Claim, send and record one batch (two short transactions around the sending)."""
    settings = get_settings()
    redis = get_redis()
    whatsapp = whatsapp_channel(redis, settings)
    senders = Senders(
        redis=redis,
        email=email_channel(settings),
        whatsapp=whatsapp,
        storage=get_storage(),
        email_limiter=email_limiter(redis, settings),
        signed_url_ttl=settings.SIGNED_URL_TTL_SECONDS,
    )
    try:
        return deliver_batch(
            transaction=session_scope,
            senders=senders,
            limit=limit,
            lease=timedelta(seconds=lease_seconds),
            follow_statuses=follow_statuses,  # guides follow their messages' statuses
        )
    finally:
        whatsapp.close()


@task(name="enfileirar-alertas", **TASK_DEFAULTS)
def queue_alerts(hoje: str) -> dict[str, int]:
    """Queue the alerts of tarefas and guides due in N business days (one transaction)."""
    with session_scope() as session:
        return queue_due_alerts(session, today=date.fromisoformat(hoje))
