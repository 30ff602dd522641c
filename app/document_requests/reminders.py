"""The reminder cycle of monthly document requests.

Every ``a_cada_dias_uteis`` business days (office setting ``lembretes_solicitacoes``) after the
request or the last reminder, at most ``maximo`` per request — defaults in
``app.platform.office_settings.SETTINGS`` — a reminder is queued under
``solicitacao:{id}:lembrete:{n}``: the number is part of the key, so a reminder is never queued
twice even when two runs overlap. Business days are the empresa's município calendar (the one
calendar of ``app.obligations.calendar``, registered holidays included): the client cannot
gather documents on a local holiday.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.orm import Session

from app.fiscal.competencia import Competencia
from app.notifications import outbox
from app.obligations.calendar import HolidayIndex, calendar_for, load_holiday_index
from app.platform.office_settings import REMINDERS, office_settings, office_today
from app.sqlcompat import is_mysql
from models import DocumentRequest, RequestItem
from models.base import UtcDateTime

__all__ = ["REMINDER_SETTING", "send_reminders"]

REMINDER_SETTING = REMINDERS


def send_reminders(
    session: Session,
    *,
    now: datetime | None = None,
    empresa_ids: Sequence[int] | None = None,
    holidays: HolidayIndex | None = None,
) -> int:
    """Queue the reminders that are due today for open requests; returns reminders counted."""
    moment = now or datetime.now(UTC)
    today = office_today(moment)
    policy = office_settings(session, REMINDER_SETTING)
    every, maximum = int(policy["a_cada_dias_uteis"]), int(policy["maximo"])
    hol = holidays if holidays is not None else load_holiday_index(session)
    my = is_mysql(session)
    only = " AND r.empresa_id IN :ids" if my else " AND r.empresa_id = ANY(:ids)"
    query: Any = text(
        "SELECT r.id, r.empresa_id, r.competencia, r.reminders_sent, "
        "coalesce(r.last_reminder_at, r.created_at) AS ref, e.uf, e.ibge_code, "
        "e.razao_social "
        "FROM document_requests r JOIN empresas e ON e.id = r.empresa_id "
        "WHERE r.status IN ('aberta', 'parcial') AND r.reminders_sent < :max"
        + (only if empresa_ids is not None else "")
    )
    if my and empresa_ids is not None:  # an expanding IN
        query = query.bindparams(bindparam("ids", expanding=True))
    if my:  # DATETIME read back as aware UTC
        query = query.columns(ref=UtcDateTime())
    params: dict[str, Any] = {"max": maximum}
    if empresa_ids is not None:
        params["ids"] = list(empresa_ids)
    rows = session.execute(query, params).all()
    due = [
        r
        for r in rows
        if calendar_for(hol, scope="municipal", uf=r.uf, ibge=r.ibge_code).business_days_between(
            office_today(r.ref), today
        )
        >= every
    ]
    if not due:
        return 0
    pending: dict[int, list[str]] = defaultdict(list)
    for rid, description in session.execute(
        select(RequestItem.request_id, RequestItem.description).where(
            RequestItem.request_id.in_([r.id for r in due]), RequestItem.status == "pendente"
        )
    ):
        pending[rid].append(description)
    recipients = outbox.empresa_recipients_many(
        session, [r.empresa_id for r in due], "lembrete_solicitacao"
    )
    messages: list[dict[str, Any]] = []
    for r in due:
        number = r.reminders_sent + 1
        messages += outbox.notification_rows(
            key=f"solicitacao:{r.id}:lembrete:{number}",
            recipients=recipients.get(r.empresa_id, []),
            template="lembrete_solicitacao",
            context={
                "solicitacao_id": r.id,
                "competencia": Competencia.parse(r.competencia).label,
                "lembrete": number,
                "empresa": r.razao_social,
                "itens_faltantes": pending.get(r.id, []),
            },
            empresa_id=r.empresa_id,
        )
    outbox.enqueue_many(session, messages)
    session.execute(
        update(DocumentRequest)
        .where(DocumentRequest.id.in_([r.id for r in due]))
        .values(
            reminders_sent=DocumentRequest.reminders_sent + 1,
            last_reminder_at=moment,
            updated_at=func.now(),
        )
        .execution_options(synchronize_session=False)
    )
    return len(due)
