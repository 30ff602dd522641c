"""Guides: list, register the official document, mark paid, re-send, download, protocol.

All routes are authenticated and scoped (a client token sees only its empresa); registering
the official document is office-only. ``GET /api/guias/abrir/{token}`` is the public tracked
link of the messages: it records a ``visualizada`` event (time, IP, user agent) and redirects
(302) to a short-lived signed URL of the PDF; an expired or tampered link is a 403
(``link_expirado`` / ``link_invalido``) and records nothing.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import RedirectResponse
from pydantic import BaseModel

from app.api.deps import CurrentPrincipal, DbSession
from app.api.schemas import IsoDateTime
from app.api.scope import ensure_visible
from app.errors import MISSING_GUIA, InvalidInput, NotFound
from app.guides import lifecycle as guides
from app.guides import protocol
from app.platform.tokens import Principal, require_office
from app.settings import get_settings
from app.storage import get_storage
from models import Guide, StoredFile

router = APIRouter(tags=["guias"])

_ACCEPTED = {b"%PDF-": "application/pdf", b"\x89PNG": "image/png", b"\xff\xd8\xff": "image/jpeg"}


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


def _out(g: Guide) -> GuideOut:
    return GuideOut(
        id=g.id,
        empresa_id=g.empresa_id,
        obrigacao_id=g.obligation_id,
        tarefa_id=g.tarefa_id,
        competencia=g.competencia,
        tipo=g.kind,
        valor=None if g.amount is None else str(g.amount),
        vencimento=g.due_date,
        linha_digitavel=g.barcode,
        pix=g.pix_code,
        status=g.status,
        calculo=g.calculation or {},
        falha=g.failure_reason,
        pago_em=g.paid_at,
        documento_oficial=g.official_file_id is not None,
        comprovante=g.receipt_file_id is not None,
    )


def _scoped(session: DbSession, principal: Principal, guide_id: int) -> Guide:
    guide = session.get(Guide, guide_id)
    if guide is None:
        raise MISSING_GUIA.error()
    ensure_visible(principal, guide.empresa_id, MISSING_GUIA)
    return guide


async def _read_file(
    upload: UploadFile, guide: Guide, purpose: str, session: DbSession, actor: str
) -> int:
    limit = get_settings().UPLOAD_MAX_FILE_BYTES
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise InvalidInput("Arquivo maior que o permitido.", code="arquivo_grande_demais")
    mime = next((m for magic, m in _ACCEPTED.items() if data.startswith(magic)), None)
    if mime is None:
        raise InvalidInput("Envie um PDF, PNG ou JPEG.", code="tipo_de_arquivo_invalido")
    return protocol.store_bytes(
        session,
        empresa_id=guide.empresa_id,
        data=data,
        filename=upload.filename or f"{purpose}.pdf",
        content_type=mime,
        purpose=purpose,
        actor=actor,
    )


@router.get("/api/guias/abrir/{token}", include_in_schema=False)
def open_tracked_link(token: str, request: Request, session: DbSession) -> RedirectResponse:
    """Public tracked link: record the view, then redirect to the PDF (403 when invalid)."""
    ip = request.client.host if request.client else None
    key, filename = protocol.record_view(
        session, token=token, ip=ip, user_agent=request.headers.get("user-agent")
    )
    ttl = get_settings().SIGNED_URL_TTL_SECONDS
    url = get_storage().signed_url(key, expires_in=ttl, filename=filename)
    return RedirectResponse(url, status_code=302, headers={"Cache-Control": "no-store"})


@router.get("/api/guias", response_model=list[GuideOut])
def list_guides(
    principal: CurrentPrincipal,
    session: DbSession,
    competencia: str | None = None,
    status: str | None = None,
    empresa_id: int | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[GuideOut]:
    """Guides by competência, status and empresa (a client sees only its own)."""
    if empresa_id is not None:
        principal.check_empresa(empresa_id)  # 403 like every other list, never a silent swap
    if not principal.is_office:
        empresa_id = principal.empresa_id
    rows = guides.list_guides(
        session,
        competencia=competencia,
        status=status,
        empresa_id=empresa_id,
        limit=limit,
        offset=offset,
    )
    return [_out(g) for g in rows]


@router.get("/api/guias/{guide_id}", response_model=GuideOut)
def get_guide(guide_id: int, principal: CurrentPrincipal, session: DbSession) -> GuideOut:
    """One guide with its calculation memo."""
    return _out(_scoped(session, principal, guide_id))


@router.post("/api/guias/{guide_id}/documento", response_model=GuideOut)
async def register_document(
    guide_id: int,
    principal: CurrentPrincipal,
    session: DbSession,
    valor: Annotated[str, Form()],
    linha_digitavel: Annotated[str | None, Form()] = None,
    pix: Annotated[str | None, Form()] = None,
    arquivo: Annotated[UploadFile | None, File()] = None,
) -> GuideOut:
    """Office: register amount, barcode/PIX and the official PDF → the guide is ``pronta``."""
    require_office(principal)
    guide = _scoped(session, principal, guide_id)
    try:
        amount = Decimal(valor.strip().replace(",", "."))
    except InvalidOperation as exc:
        raise InvalidInput("Valor inválido (use 1234.56).", code="valor_invalido") from exc
    file_id = None
    if arquivo is not None:
        file_id = await _read_file(arquivo, guide, "guide_official", session, principal.actor)
    barcode = "".join(ch for ch in linha_digitavel or "" if ch.isdigit()) or None
    updated = guides.register_document(
        session,
        guide_id=guide.id,
        amount=amount,
        actor=principal.actor,
        barcode=barcode,
        pix_code=(pix or "").strip() or None,
        official_file_id=file_id,
    )
    return _out(updated)


@router.post("/api/guias/{guide_id}/pagamento", response_model=GuideOut)
async def mark_paid(
    guide_id: int,
    principal: CurrentPrincipal,
    session: DbSession,
    pago_em: Annotated[IsoDateTime | None, Form()] = None,
    comprovante: Annotated[UploadFile | None, File()] = None,
) -> GuideOut:
    """Client or office: mark the guide paid, optionally with the receipt."""
    guide = _scoped(session, principal, guide_id)
    file_id = None
    if comprovante is not None:
        file_id = await _read_file(comprovante, guide, "receipt", session, principal.actor)
    paid = protocol.mark_paid(
        session,
        guide_id=guide.id,
        actor=principal.actor,
        by_client=not principal.is_office,
        receipt_file_id=file_id,
        paid_at=pago_em,
    )
    return _out(paid)


@router.post("/api/guias/{guide_id}/reenvio")
def resend(
    guide_id: int, body: ResendIn, principal: CurrentPrincipal, session: DbSession
) -> dict[str, int]:
    """Send the guide again (explicit and audited; a new message per recipient)."""
    guide = _scoped(session, principal, guide_id)
    queued = protocol.resend(session, guide_id=guide.id, actor=principal.actor, reason=body.motivo)
    return {"guia_id": guide.id, "mensagens": queued}


@router.get("/api/guias/{guide_id}/download")
def download(guide_id: int, principal: CurrentPrincipal, session: DbSession) -> dict[str, Any]:
    """A short-lived signed URL of the guide (official document when registered)."""
    guide = _scoped(session, principal, guide_id)
    if guide.official_file_id is None:
        protocol.ensure_pdfs(session, guide_ids=[guide.id])
        session.flush()
    stored = session.get(StoredFile, guide.official_file_id or guide.pdf_file_id)
    if stored is None:
        raise NotFound("Arquivo da guia não encontrado.", code="arquivo_nao_encontrado")
    ttl = get_settings().SIGNED_URL_TTL_SECONDS
    url = get_storage().signed_url(
        stored.storage_key, expires_in=ttl, filename=stored.original_name
    )
    return {"url": url, "expira_em_segundos": ttl}


@router.get("/api/guias/{guide_id}/protocolo", response_model=list[EventOut])
def read_protocol(guide_id: int, principal: CurrentPrincipal, session: DbSession) -> list[EventOut]:
    """The delivery protocol: queued, sent, delivered, every view, paid, re-sent."""
    guide = _scoped(session, principal, guide_id)
    return [
        EventOut(
            tipo=e.kind,
            em=e.at,
            canal=e.channel,
            autor=e.actor,
            ip=e.ip,
            user_agent=e.user_agent,
            notificacao_id=e.notification_id,
            detalhes=e.details or {},
        )
        for e in protocol.events_of(session, guide_id=guide.id)
    ]
