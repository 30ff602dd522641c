"""Guides: list, register the official document, mark paid, re-send, download, protocol.

Scoped like every route (a client token sees only its empresa); registering the official
document is office-only. The public tracked link of the messages is in ``routes/files.py``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, UploadFile
from pydantic import BaseModel

from app.api.deps import CurrentPrincipal, DbSession, OfficePrincipal, Paging, paging
from app.api.forms import read_file
from app.api.schemas import IsoDateTime, Pagina, page, pt_keys
from app.api.scope import empresa_filter
from app.api.visible import VisibleGuide
from app.fiscal.competencia import Competencia
from app.guides import protocol
from app.guides.documents import barcode_digits, download_file, parse_amount, store_guide_file
from app.guides.lifecycle import register_document as register_guide_document
from app.guides.queries import guides_page
from app.settings import get_settings
from app.storage import get_storage

router = APIRouter(tags=["guias"])
GuidePage = Annotated[Paging, Depends(paging(maximum=1000))]


class GuideOut(BaseModel):
    """A guide as the API shows it (money as text, exact)."""

    id: int
    empresa_id: int
    obrigacao_id: int
    tarefa_id: int | None
    competencia: str
    tipo: str
    valor: str | None
    vencimento: date
    linha_digitavel: str | None
    pix: str | None
    status: str
    calculo: dict[str, Any]
    falha: str | None
    pago_em: datetime | None
    documento_oficial: bool
    comprovante: bool

    @classmethod
    def of(cls, g: Any) -> GuideOut:
        """From a ``Guide`` row."""
        return cls(
            id=g.id, empresa_id=g.empresa_id, obrigacao_id=g.obligation_id, tarefa_id=g.tarefa_id,
            competencia=g.competencia, tipo=g.kind,
            valor=None if g.amount is None else str(g.amount), vencimento=g.due_date,
            linha_digitavel=g.barcode, pix=g.pix_code, status=g.status,
            calculo=pt_keys(g.calculation or {}), falha=g.failure_reason, pago_em=g.paid_at,
            documento_oficial=g.official_file_id is not None,
            comprovante=g.receipt_file_id is not None,
        )  # fmt: skip


class EventOut(BaseModel):
    """One protocol event."""

    tipo: str
    em: datetime
    canal: str | None
    autor: str | None
    ip: str | None
    user_agent: str | None
    notificacao_id: int | None
    detalhes: dict[str, Any]


class ResendIn(BaseModel):
    """Why the guide is sent again (kept in the audit trail)."""

    motivo: str | None = None


class ResendOut(BaseModel):
    """How many messages were queued again."""

    guia_id: int
    mensagens: int


class DownloadOut(BaseModel):
    """A signed, expiring link."""

    url: str
    expira_em_segundos: int


def _store(
    session: DbSession, guide: Any, upload: UploadFile | None, *, purpose: str, actor: str
) -> int | None:
    """The stored file id of an optional form file of ``guide`` (type checked), or None."""
    if upload is None:
        return None
    return store_guide_file(
        session, guide=guide, data=read_file(upload), filename=upload.filename, purpose=purpose,
        actor=actor,
    )  # fmt: skip


@router.get("/guias", response_model=Pagina[GuideOut])
def list_guides(
    principal: CurrentPrincipal,
    session: DbSession,
    paging: GuidePage,
    competencia: str | None = None,
    status: str | None = None,
    empresa_id: int | None = None,
) -> Pagina[GuideOut]:
    """Guides by competência, status and empresa (a client sees only its own)."""
    total, rows = guides_page(
        session,
        competencia=Competencia.parse(competencia) if competencia else None,
        status=status,
        empresa_id=empresa_filter(principal, empresa_id),
        limit=paging.limite,
        offset=paging.deslocamento,
    )
    return page([GuideOut.of(g) for g in rows], total, paging)


@router.get("/guias/{guide_id}", response_model=GuideOut)
def get_guide(guide: VisibleGuide) -> GuideOut:
    """One guide with its calculation memo."""
    return GuideOut.of(guide)


@router.post("/guias/{guide_id}/documento", response_model=GuideOut)
def register_document(
    principal: OfficePrincipal,
    guide: VisibleGuide,
    session: DbSession,
    valor: Annotated[str, Form()],
    linha_digitavel: Annotated[str | None, Form()] = None,
    pix: Annotated[str | None, Form()] = None,
    arquivo: Annotated[UploadFile | None, File()] = None,
) -> GuideOut:
    """Office: register amount, barcode/PIX and the official PDF → the guide is ``pronta``."""
    amount = parse_amount(valor)
    file_id = _store(session, guide, arquivo, purpose="guide_official", actor=principal.actor)
    updated = register_guide_document(
        session,
        guide_id=guide.id,
        amount=amount,
        actor=principal.actor,
        barcode=barcode_digits(linha_digitavel),
        pix_code=(pix or "").strip() or None,
        official_file_id=file_id,
    )
    return GuideOut.of(updated)


@router.post("/guias/{guide_id}/pagamento", response_model=GuideOut)
def mark_paid(
    guide: VisibleGuide,
    principal: CurrentPrincipal,
    session: DbSession,
    pago_em: Annotated[IsoDateTime | None, Form()] = None,
    comprovante: Annotated[UploadFile | None, File()] = None,
) -> GuideOut:
    """Client or office: mark the guide paid, optionally with the receipt."""
    file_id = _store(session, guide, comprovante, purpose="receipt", actor=principal.actor)
    paid = protocol.mark_paid(
        session,
        guide_id=guide.id,
        actor=principal.actor,
        by_client=not principal.is_office,
        receipt_file_id=file_id,
        paid_at=pago_em,
    )
    return GuideOut.of(paid)


@router.post("/guias/{guide_id}/reenvio", response_model=ResendOut)
def resend(
    guide: VisibleGuide, body: ResendIn, principal: CurrentPrincipal, session: DbSession
) -> ResendOut:
    """Send the guide again (explicit and audited; a new message per recipient)."""
    queued = protocol.resend(session, guide_id=guide.id, actor=principal.actor, reason=body.motivo)
    return ResendOut(guia_id=guide.id, mensagens=queued)


@router.get("/guias/{guide_id}/download", response_model=DownloadOut)
def download(guide: VisibleGuide, session: DbSession) -> DownloadOut:
    """A short-lived signed URL of the guide (official document when registered)."""
    stored = download_file(session, guide=guide)
    ttl = get_settings().SIGNED_URL_TTL_SECONDS
    url = get_storage().signed_url(
        stored.storage_key, expires_in=ttl, filename=stored.original_name
    )
    return DownloadOut(url=url, expira_em_segundos=ttl)


@router.get("/guias/{guide_id}/protocolo", response_model=Pagina[EventOut])
def read_protocol(guide: VisibleGuide, session: DbSession, paging: GuidePage) -> Pagina[EventOut]:
    """The delivery protocol: queued, sent, delivered, every view, paid, re-sent."""
    events = protocol.events_of(session, guide_id=guide.id)
    chosen = events[paging.deslocamento : paging.deslocamento + paging.limite]
    return page(
        [
            EventOut(
                tipo=e.kind,
                em=e.at,
                canal=e.channel,
                autor=e.actor,
                ip=e.ip,
                user_agent=e.user_agent,
                notificacao_id=e.notification_id,
                detalhes=pt_keys(e.details or {}),
            )  # fmt: skip
            for e in chosen
        ],
        len(events),
        paging,
    )
