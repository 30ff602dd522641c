"""Client orders (pedidos): a client token opens, follows, talks, attaches and cancels its own
empresa's orders; the office lists them with filters, assigns them and changes their status
with a reply and result files. Attachments are checked by content by ``processar-pedidos``;
downloads are signed, expiring links only."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from app.api.deps import CurrentPrincipal, DbSession, OfficePrincipal, Page
from app.api.forms import read_files
from app.api.schemas import IsoDate, Pagina, page
from app.api.scope import empresa_filter, visible
from app.documents.dispatch import announce_orders
from app.orders.files import attachment_download_url
from app.orders.office import OrderFilter, assign_order, change_status, orders_page
from app.orders.service import (
    MAX_ATTACHMENTS,
    MISSING_PEDIDO,
    Attachment,
    Order,
    add_attachments,
    add_message,
    cancel_order,
    get_order,
    open_order,
    order_detail,
)
from app.orders.types import order_types
from app.settings import get_settings
from app.storage import get_storage

router = APIRouter(tags=["pedidos"])
Texto = Annotated[str, Field(min_length=1, max_length=5000)]


class TipoOut(BaseModel):
    """One order type of the catalogue."""

    codigo: str
    nome: str
    departamento: str
    prazo_dias_uteis: int
    anexos_obrigatorios: list[str]
    anexos_opcionais: list[str]
    requer_confirmacao_do_cliente: bool


class AnexoOut(BaseModel):
    """A file of an order and what its content check found."""

    id: int
    nome: str
    origem: str = Field(description="cliente ou resultado (do escritório).")
    situacao: str = Field(description="pendente, aceito ou quarentena.")
    tipo: str | None
    erro_codigo: str | None
    erro_mensagem: str | None
    alertas: list[Any]
    upload_id: int | None


class MensagemOut(BaseModel):
    """A message on an order."""

    id: int
    autor: str
    do_escritorio: bool
    texto: str
    criada_em: datetime


class PedidoOut(BaseModel):
    """An order (listing)."""

    id: int
    empresa_id: int
    tipo: str
    descricao: str
    situacao: str
    departamento: str | None
    responsavel_id: int | None
    vencimento: date | None
    resposta: str | None
    criado_em: datetime
    encerrado_em: datetime | None
    processado_em: datetime | None

    @classmethod
    def of(cls, o: Order, **extra: Any) -> Any:
        """From an ``Order`` row."""
        return cls(
            id=o.id, empresa_id=o.empresa_id, tipo=o.kind, descricao=o.description,
            situacao=o.status, departamento=o.department, responsavel_id=o.assigned_staff_id,
            vencimento=o.due_date, resposta=o.reply, criado_em=o.created_at,
            encerrado_em=o.closed_at, processado_em=o.processed_at, **extra,
        )  # fmt: skip


class PedidoDetalhe(PedidoOut):
    """An order with its attachments and messages."""

    anexos: list[AnexoOut]
    mensagens: list[MensagemOut]


class MensagemIn(BaseModel):
    """A message."""

    texto: Texto


class CancelarIn(BaseModel):
    """Why the order is cancelled (optional)."""

    motivo: str | None = Field(default=None, max_length=2000)


class AtribuirIn(BaseModel):
    """Who becomes responsible."""

    responsavel_id: int = Field(ge=1, le=2**62)


class DownloadOut(BaseModel):
    """A signed, expiring link."""

    url: str
    expira_em_segundos: int


def _visible(pedido_id: int, principal: CurrentPrincipal, session: DbSession) -> Order:
    return visible(principal, get_order(session, order_id=pedido_id), MISSING_PEDIDO)


VisiblePedido = Annotated[Order, Depends(_visible)]


def _detail(session: Session, order_id: int) -> PedidoDetalhe:
    d = order_detail(session, order_id=order_id)
    out: PedidoDetalhe = PedidoDetalhe.of(
        d.order,
        anexos=[
            AnexoOut(
                id=a.id,
                nome=a.original_name,
                origem=a.role,
                situacao=a.status,
                tipo=a.kind,
                erro_codigo=a.error_code,
                erro_mensagem=a.error_message,
                alertas=a.flags,
                upload_id=a.upload_id,
            )  # fmt: skip
            for a in d.attachments
        ],
        mensagens=[
            MensagemOut(
                id=m.id,
                autor=m.author,
                do_escritorio=m.from_office,
                texto=m.text,
                criada_em=m.created_at,
            )  # fmt: skip
            for m in d.messages
        ],
    )
    return out


def _files(uploads: list[UploadFile] | None) -> list[Attachment]:
    """The multipart files, read within the per-file and per-call limits."""
    too_many = f"No máximo {MAX_ATTACHMENTS} anexos por pedido."
    files = read_files(uploads, max_files=MAX_ATTACHMENTS, too_many=too_many)
    return [Attachment(f.filename or "arquivo", f.content_type or "", data) for f, data in files]


@router.get("/pedidos/tipos", response_model=Pagina[TipoOut])
def types_route(paging: Page) -> Pagina[TipoOut]:
    """The order types a client may open (catalogue as data)."""
    rows = [
        TipoOut(
            codigo=t.code,
            nome=t.name,
            departamento=t.department,
            prazo_dias_uteis=t.sla_business_days,
            anexos_obrigatorios=list(t.required_attachments),
            anexos_opcionais=list(t.optional_attachments),
            requer_confirmacao_do_cliente=t.client_confirmation,
        )  # fmt: skip
        for t in order_types()
    ]
    return page(rows[paging.deslocamento : paging.deslocamento + paging.limite], len(rows), paging)


@router.post("/empresas/{empresa_id}/pedidos", status_code=201, response_model=PedidoDetalhe)
def open_route(
    empresa_id: int,
    principal: CurrentPrincipal,
    session: DbSession,
    tipo: Annotated[str, Form(max_length=40)],
    descricao: Annotated[str, Form(max_length=5000)],
    anexos: Annotated[list[UploadFile] | None, File(description="PDF, imagens, XML …")] = None,
) -> PedidoDetalhe:
    """Open an order for the empresa (a client token: only its own), with its attachments."""
    principal.check_empresa(empresa_id)
    order = open_order(
        session, empresa_id=empresa_id, kind=tipo, description=descricao,
        files=_files(anexos), actor=principal.actor,
    )  # fmt: skip
    announce_orders()  # the dispatcher starts processar-pedidos (its run begins after our commit)
    return _detail(session, order.id)


@router.get("/pedidos", response_model=Pagina[PedidoOut])
def list_route(
    principal: CurrentPrincipal,
    session: DbSession,
    paging: Page,
    empresa_id: int | None = None,
    situacao: Annotated[str | None, Query(max_length=20)] = None,
    tipo: Annotated[str | None, Query(max_length=40)] = None,
    departamento: Annotated[str | None, Query(max_length=20)] = None,
    responsavel_id: int | None = None,
    vencimento_de: IsoDate | None = None,
    vencimento_ate: IsoDate | None = None,
) -> Pagina[PedidoOut]:
    """Orders visible to the caller, newest first; filters by status, type, department,
    responsible and SLA due-date window."""
    filters = OrderFilter(
        empresa_id=empresa_filter(principal, empresa_id), status=situacao, kind=tipo,
        department=departamento, responsible_id=responsavel_id, due_from=vencimento_de,
        due_until=vencimento_ate,
    )  # fmt: skip
    total, rows = orders_page(
        session, filters=filters, limit=paging.limite, offset=paging.deslocamento
    )
    return page([PedidoOut.of(o) for o in rows], total, paging)


@router.get("/pedidos/{pedido_id}", response_model=PedidoDetalhe)
def get_route(order: VisiblePedido, session: DbSession) -> PedidoDetalhe:
    """One order with its attachments and messages."""
    return _detail(session, order.id)


@router.post("/pedidos/{pedido_id}/mensagens", response_model=PedidoDetalhe)
def message_route(
    order: VisiblePedido, body: MensagemIn, principal: CurrentPrincipal, session: DbSession
) -> PedidoDetalhe:
    """Add a message (client or office)."""
    add_message(
        session, order_id=order.id, text=body.texto, actor=principal.actor,
        from_office=principal.is_office,
    )  # fmt: skip
    return _detail(session, order.id)


@router.post("/pedidos/{pedido_id}/anexos", response_model=PedidoDetalhe)
def attach_route(
    order: VisiblePedido,
    principal: CurrentPrincipal,
    session: DbSession,
    anexos: Annotated[list[UploadFile], File(description="PDF, imagens, XML …")],
) -> PedidoDetalhe:
    """Attach more files; they are checked by the next ``processar-pedidos`` run."""
    add_attachments(session, order_id=order.id, files=_files(anexos), actor=principal.actor)
    announce_orders()
    return _detail(session, order.id)


@router.post("/pedidos/{pedido_id}/cancelar", response_model=PedidoDetalhe)
def cancel_route(
    order: VisiblePedido, body: CancelarIn, principal: CurrentPrincipal, session: DbSession
) -> PedidoDetalhe:
    """Cancel an open order (audited; the client is told)."""
    cancel_order(session, order_id=order.id, actor=principal.actor, reason=body.motivo)
    return _detail(session, order.id)


@router.post("/pedidos/{pedido_id}/atribuir", response_model=PedidoDetalhe)
def assign_route(
    principal: OfficePrincipal, pedido_id: int, body: AtribuirIn, session: DbSession
) -> PedidoDetalhe:
    """Make a staff member responsible (office only)."""
    assign_order(session, order_id=pedido_id, staff_id=body.responsavel_id, actor=principal.actor)
    return _detail(session, pedido_id)


@router.post("/pedidos/{pedido_id}/situacao", response_model=PedidoDetalhe)
def status_route(
    principal: OfficePrincipal,
    pedido_id: int,
    session: DbSession,
    situacao: Annotated[str, Form(max_length=20)],
    resposta: Annotated[str | None, Form(max_length=5000)] = None,
    resultados: Annotated[list[UploadFile] | None, File(description="Ex.: a certidão")] = None,
) -> PedidoDetalhe:
    """Change the status with a reply and result files (office only); the client is told."""
    change_status(
        session, order_id=pedido_id, status=situacao, actor=principal.actor, reply=resposta,
        results=_files(resultados),
    )  # fmt: skip
    return _detail(session, pedido_id)


@router.get("/pedidos/{pedido_id}/anexos/{anexo_id}/download", response_model=DownloadOut)
def download_route(
    order: VisiblePedido, anexo_id: int, principal: CurrentPrincipal, session: DbSession
) -> DownloadOut:
    """A signed, expiring URL of one file of the order (quarantined ones: office only)."""
    ttl = get_settings().SIGNED_URL_TTL_SECONDS
    url = attachment_download_url(
        session, storage=get_storage(), order_id=order.id, attachment_id=anexo_id,
        viewer_is_office=principal.is_office, expires_in=ttl,
    )  # fmt: skip
    return DownloadOut(url=url, expira_em_segundos=ttl)
