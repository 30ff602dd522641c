"""Signed, expiring links to an order's files (files are never public)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import Conflict, NotFound, StorageError
from app.files.content import materialize
from app.files.reader import gone_code
from app.storage.base import Storage
from models import StoredFile
from models.orders import OrderAttachment

__all__ = ["attachment_download_url"]


def attachment_download_url(
    session: Session,
    *,
    storage: Storage,
    order_id: int,
    attachment_id: int,
    viewer_is_office: bool,
    expires_in: int,
) -> str:
    """A signed URL of one attachment of ``order_id``; a quarantined file only for the office
    (409 ``anexo_em_quarentena`` to the client: it must not be opened on a client machine)."""
    att = session.scalar(
        select(OrderAttachment).where(
            OrderAttachment.id == attachment_id, OrderAttachment.order_id == order_id
        )
    )
    stored = session.get(StoredFile, att.stored_file_id) if att is not None else None
    if att is None or stored is None or stored.deleted_at is not None:
        raise NotFound("Arquivo não encontrado neste pedido.", code="arquivo_nao_encontrado")
    if att.status == "quarentena" and not viewer_is_office:
        raise Conflict(
            "Anexo em quarentena: só o escritório pode baixá-lo.",
            code="anexo_em_quarentena",
            motivo=att.error_code,
        )
    try:
        materialize(session, storage, stored)
    except StorageError as exc:
        raise NotFound("Arquivo não encontrado no armazenamento.", code=gone_code(exc)) from exc
    return storage.signed_url(stored.storage_key, expires_in=expires_in, filename=att.original_name)
