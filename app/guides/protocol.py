"""Guide delivery and its protocol (``guide_events``): proof that the client got the guide.

Events: ``enfileirada`` (one per queued message: channel, recipient, notification; this row
links the message to the guide), ``enviada`` (the provider accepted it), ``entregue``
(provider status), ``visualizada`` (every open of the tracked link: time, IP, user agent — the
first and every later one; or a provider "read" status), ``paga`` (client or operator, optional
receipt), ``reenviada`` (an explicit, audited re-send with its counter).

Sending queues through the outbox (``app.notifications.outbox``): an e-mail with the PDF attached
and a WhatsApp message, both carrying a signed, expiring tracked link
``/api/guias/abrir/{token}`` (HMAC, ``app.storage.signing``). Idempotency keys are
``guia:{id}:envio:{n}`` (n = 0 for the first send, the re-send counter after), so re-running a
send never queues twice. PDFs are rendered lazily here, at send time, not in generation.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.errors import MISSING_GUIA, Conflict, InvalidInput
from app.files.store import store_file
from app.guides.pdf import GuidePdfData, render_guide_pdf
from app.notifications import outbox
from app.platform import audit
from app.platform.office_settings import office_value
from app.settings import get_settings
from app.sqlcompat import insert_ignore
from app.storage.signing import sign, verify
from models import Empresa, Guide, GuideEvent, Notification, Obligation, StoredFile

__all__ = [
    "LINK_TTL_DAYS",
    "advance",
    "ensure_pdfs",
    "events_of",
    "mark_paid",
    "record_view",
    "resend",
    "send",
    "status_hook",
    "tracked_link",
]

LINK_TTL_DAYS = 45  # covers the time to the due date (~15 days) plus late payment
TEMPLATE = "guia_disponivel"
# A status only moves forward; vencida stays until paid; cancelada/paga are final.
RANK = {
    "calculada": 0,
    "aguardando_documento": 0,
    "pronta": 1,
    "enviada": 2,
    "entregue": 3,
    "visualizada": 4,
    "vencida": 5,
    "paga": 6,
    "cancelada": 7,
}
_PROVIDER_STATUS = {"entregue": "entregue", "lida": "visualizada"}


def advance(guide: Guide, status: str) -> None:
    """Move ``guide`` to ``status`` unless it is already further along."""
    if RANK[status] > RANK.get(guide.status, 0):
        guide.status = status


def _filename(empresa: Empresa, guide: Guide) -> str:
    return f"guia-{guide.kind.lower()}-{guide.competencia}-{empresa.cnpj}.pdf"


def ensure_pdfs(session: Session, *, guide_ids: Sequence[int]) -> int:
    """Render and store the office PDF of guides that lack one; returns how many were rendered."""
    office = str(office_value(session, "nome_escritorio", get_settings().MAIL_FROM_NAME))
    rows = session.execute(
        select(Guide, Empresa, Obligation.name)
        .join(Empresa, Empresa.id == Guide.empresa_id)
        .join(Obligation, Obligation.id == Guide.obligation_id)
        .where(Guide.id.in_(list(guide_ids)), Guide.pdf_file_id.is_(None))
    )
    done = 0
    for guide, empresa, tax in rows:
        data = GuidePdfData(
            office_name=office,
            empresa=empresa.razao_social,
            cnpj=empresa.cnpj,
            tax=tax,
            kind=guide.kind,
            competencia=guide.competencia,
            due_date=guide.due_date,
            amount=guide.amount,
            barcode=guide.barcode,
            pix_code=guide.pix_code,
            calculation=guide.calculation or {},
        )
        guide.pdf_file_id = store_file(
            session,
            empresa_id=empresa.id,
            data=render_guide_pdf(data),
            filename=_filename(empresa, guide),
            content_type="application/pdf",
            purpose="guide",
            uploaded_by="sistema",
        )
        done += 1
    return done


def tracked_link(guide_id: int, idempotency_key: str, *, ttl_days: int = LINK_TTL_DAYS) -> str:
    """The signed, expiring link a recipient opens; it names the guide and the message."""
    s = get_settings()
    token = sign(
        s.APP_KEY.get_secret_value(),
        f"guia:{guide_id}",
        expires_in=ttl_days * 86400,
        extra={"g": guide_id, "m": idempotency_key},
    )
    return f"{s.APP_URL.rstrip('/')}/api/guias/abrir/{token}"


def _queue(session: Session, guide: Guide, *, send_no: int) -> list[int]:
    """Queue the messages of one send; record one ``enfileirada`` event per new notification."""
    empresa = session.get(Empresa, guide.empresa_id)
    tax = session.scalar(select(Obligation.name).where(Obligation.id == guide.obligation_id))
    assert empresa is not None and guide.pdf_file_id is not None
    files = [guide.pdf_file_id] + ([guide.official_file_id] if guide.official_file_id else [])
    base = f"guia:{guide.id}:envio:{send_no}"
    rows: list[dict[str, Any]] = []
    for r in outbox.empresa_recipients(session, guide.empresa_id, TEMPLATE):
        key = f"{base}:{r.channel}:{r.address}"[:200]
        context = {
            "nome": r.name,
            "destinatario": r.name,
            "imposto": tax,
            "empresa": empresa.razao_social,
            "competencia": guide.competencia,
            "vencimento": guide.due_date.isoformat(),
            "valor": str(guide.amount) if guide.amount is not None else "0",
            "link": tracked_link(guide.id, key),
            "guia_id": guide.id,
        }
        rows.append(
            {
                "idempotency_key": key,
                "empresa_id": guide.empresa_id,
                "channel": r.channel,
                "recipient": r.address,
                "template": TEMPLATE,
                "context": context,
                "attachments": files if r.channel == "email" else [],
            }
        )
    if not rows:
        return []
    inserted = insert_ignore(
        session,
        Notification,
        rows,
        index_elements=["idempotency_key"],
        returning=(Notification.id, Notification.channel, Notification.recipient),
    )
    now = datetime.now(UTC)
    for nid, channel, recipient in inserted:
        session.add(
            GuideEvent(
                guide_id=guide.id,
                kind="enfileirada",
                at=now,
                channel=channel,
                notification_id=nid,
                details={"destinatario": recipient, "envio": send_no},
            )
        )
    return [nid for nid, _, _ in inserted]


def send(session: Session, *, guide_ids: Sequence[int]) -> dict[str, int]:
    """Queue the first delivery of ``pronta`` guides never sent (idempotent)."""
    guides = list(
        session.scalars(
            select(Guide)
            .where(Guide.id.in_(list(guide_ids)), Guide.status == "pronta")
            .with_for_update(skip_locked=True)
        )
    )
    ensure_pdfs(session, guide_ids=[g.id for g in guides])
    session.flush()
    out = {"enviadas": 0, "mensagens": 0, "sem_destinatario": 0}
    for guide in guides:
        queued = _queue(session, guide, send_no=0)
        if not queued:
            out["sem_destinatario"] += 1
            guide.failure_reason = "Empresa sem contato para receber guias. [sem_destinatario]"
            continue
        guide.failure_reason = None
        advance(guide, "enviada")
        out["enviadas"] += 1
        out["mensagens"] += len(queued)
    return out


def _guide(session: Session, guide_id: int) -> Guide:
    guide = session.get(Guide, guide_id, with_for_update=True)
    if guide is None:
        raise MISSING_GUIA.error()
    return guide


def resend(session: Session, *, guide_id: int, actor: str, reason: str | None = None) -> int:
    """Explicit re-send with a new idempotency key (counter); audited. Returns messages queued."""
    guide = _guide(session, guide_id)
    # Only a guide already sent can be re-sent (a ready one goes out with enviar-guias).
    if guide.status in ("paga", "cancelada") or RANK[guide.status] < RANK["enviada"]:
        raise Conflict(
            f"Não é possível reenviar uma guia com status {guide.status}.", code="guia_sem_envio"
        )
    count = session.scalar(
        select(func.count())
        .select_from(GuideEvent)
        .where(GuideEvent.guide_id == guide.id, GuideEvent.kind == "reenviada")
    )
    counter = int(count or 0) + 1
    ensure_pdfs(session, guide_ids=[guide.id])
    session.flush()
    queued = _queue(session, guide, send_no=counter)
    if not queued:
        raise Conflict("Empresa sem contato para receber guias.", code="sem_destinatario")
    session.add(
        GuideEvent(
            guide_id=guide.id,
            kind="reenviada",
            at=datetime.now(UTC),
            actor=actor,
            details={"reenvio": counter, "notificacoes": queued, "motivo": reason},
        )
    )
    advance(guide, "enviada")
    audit.record(
        session,
        actor=actor,
        action="guia.reenviada",
        entity="guia",
        entity_id=guide.id,
        empresa_id=guide.empresa_id,
        reason=reason,
        details={"reenvio": counter, "notificacoes": queued},
    )
    return len(queued)


def record_view(
    session: Session, *, token: str, ip: str | None, user_agent: str | None
) -> tuple[str, str]:
    """Verify a tracked link, record the view; returns (storage key, filename) of the PDF."""
    data = verify(get_settings().APP_KEY.get_secret_value(), token)  # 403 link_invalido/expirado
    guide = _guide(session, int(data["g"]))
    nid = session.scalar(
        select(Notification.id).where(Notification.idempotency_key == data.get("m"))
    )
    first = not session.scalar(
        select(func.count())
        .select_from(GuideEvent)
        .where(GuideEvent.guide_id == guide.id, GuideEvent.kind == "visualizada")
    )
    ensure_pdfs(session, guide_ids=[guide.id])
    session.flush()
    session.add(
        GuideEvent(
            guide_id=guide.id,
            kind="visualizada",
            at=datetime.now(UTC),
            channel="link",
            ip=(ip or "")[:45] or None,
            user_agent=(user_agent or "")[:400] or None,
            notification_id=nid,
            details={"primeira": first},
        )
    )
    advance(guide, "visualizada")
    file_id = guide.official_file_id or guide.pdf_file_id
    stored = session.get(StoredFile, file_id)
    assert stored is not None
    return stored.storage_key, stored.original_name


def status_hook(session: Session, notification: Notification, status: str) -> None:
    """Advance the guides a message delivers when the provider reports it delivered or read.

    ``app.notifications.delivery.on_status`` already writes the protocol rows (``enviada``,
    ``entregue``, ``visualizada``, ``falha_envio``) for messages linked by our ``enfileirada``
    event; this moves the guide's status (called by ``app.guides.provider_status``).
    """
    target = _PROVIDER_STATUS.get(status)
    if target is None:
        return
    ids = session.scalars(
        select(GuideEvent.guide_id).where(GuideEvent.notification_id == notification.id).distinct()
    )
    for guide_id in list(ids):
        advance(_guide(session, guide_id), target)


def mark_paid(
    session: Session,
    *,
    guide_id: int,
    actor: str,
    by_client: bool,
    receipt_file_id: int | None = None,
    paid_at: datetime | None = None,
) -> Guide:
    """Record the payment (client or office), optionally with a receipt; audited."""
    guide = _guide(session, guide_id)
    if guide.status == "cancelada":
        raise Conflict("Guia cancelada não pode ser paga.", code="guia_cancelada")
    now = datetime.now(UTC)
    when = paid_at or now
    if when.tzinfo is None:  # a date/time typed by a person in the office: São Paulo time
        when = when.replace(tzinfo=ZoneInfo("America/Sao_Paulo"))
    if when > now + timedelta(minutes=5):
        raise InvalidInput("A data de pagamento não pode estar no futuro.", code="data_futura")
    guide.paid_at = when
    if receipt_file_id is not None:
        guide.receipt_file_id = receipt_file_id
    advance(guide, "paga")
    session.add(
        GuideEvent(
            guide_id=guide.id,
            kind="paga",
            at=when,
            actor=actor,
            details={
                "por": "cliente" if by_client else "escritorio",
                "comprovante": receipt_file_id,
            },
        )
    )
    audit.record(
        session,
        actor=actor,
        action="guia.paga",
        entity="guia",
        entity_id=guide.id,
        empresa_id=guide.empresa_id,
        details={"comprovante": receipt_file_id, "pago_em": when.isoformat()},
    )
    return guide


def events_of(session: Session, *, guide_id: int) -> list[GuideEvent]:
    """The protocol of a guide, oldest first."""
    return list(
        session.scalars(
            select(GuideEvent)
            .where(GuideEvent.guide_id == guide_id)
            .order_by(GuideEvent.at, GuideEvent.id)
        )
    )
