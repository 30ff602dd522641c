"""Files and typed values an operator or client hands in for a guide, and the file a guide
is downloaded as.

- The official document and the payment receipt are PDF, PNG or JPEG, recognised by their
  first bytes (the declared content type and file name are not trusted).
- Amounts are typed as ``1234.56`` or ``1234,56``; a barcode (linha digitável) is kept as its
  digits only (the dots and spaces of the printed form are layout).
- A guide without a registered official document is downloaded as the office's own PDF,
  rendered once and stored.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from sqlalchemy.orm import Session

from app.errors import InvalidInput, NotFound
from app.files.store import store_file
from app.guides import protocol
from models import Guide, StoredFile

__all__ = ["download_file", "parse_amount", "barcode_digits", "sniff_type", "store_guide_file"]

_ACCEPTED = {b"%PDF-": "application/pdf", b"\x89PNG": "image/png", b"\xff\xd8\xff": "image/jpeg"}


def sniff_type(data: bytes) -> str:
    """The media type of a PDF/PNG/JPEG by its magic bytes; 422 for anything else."""
    mime = next((m for magic, m in _ACCEPTED.items() if data.startswith(magic)), None)
    if mime is None:
        raise InvalidInput("Envie um PDF, PNG ou JPEG.", code="tipo_de_arquivo_invalido")
    return mime


def parse_amount(text: str) -> Decimal:
    """``1234.56`` or ``1234,56`` as a Decimal; 422 ``valor_invalido`` otherwise."""
    try:
        return Decimal(text.strip().replace(",", "."))
    except InvalidOperation as exc:
        raise InvalidInput("Valor inválido (use 1234.56).", code="valor_invalido") from exc


def barcode_digits(text: str | None) -> str | None:
    """The digits of a typed linha digitável (None when there are none)."""
    return "".join(ch for ch in text or "" if ch.isdigit()) or None


def store_guide_file(
    session: Session, *, guide: Guide, data: bytes, filename: str | None, purpose: str, actor: str
) -> int:
    """Store an official document or receipt of ``guide`` (type checked); returns its file id."""
    return store_file(
        session,
        empresa_id=guide.empresa_id,
        data=data,
        filename=filename or f"{purpose}.pdf",
        content_type=sniff_type(data),
        purpose=purpose,
        uploaded_by=actor,
    )


def download_file(session: Session, *, guide: Guide) -> StoredFile:
    """The file a guide is downloaded as: the official document, else the office PDF."""
    if guide.official_file_id is None:
        protocol.ensure_pdfs(session, guide_ids=[guide.id])
        session.flush()
    stored = session.get(StoredFile, guide.official_file_id or guide.pdf_file_id)
    if stored is None:
        raise NotFound("Arquivo da guia não encontrado.", code="arquivo_nao_encontrado")
    return stored
