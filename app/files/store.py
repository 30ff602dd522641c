"""Stored files: kept once per (empresa, sha256) in the configured storage, never public.

Used by every path that keeps a file an operator or client sent (protocol files of tarefas,
request attachments, guide documents and receipts, rendered guide PDFs). Uploads of fiscal
documents have their own bulk path (app/documents/reception.py) with the same key rule.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import InvalidInput, file_too_large
from app.settings import get_settings
from app.sqlcompat import insert_ignore
from app.storage import get_storage
from models import StoredFile

__all__ = ["store_file"]


def store_file(
    session: Session,
    *,
    empresa_id: int,
    data: bytes,
    filename: str,
    content_type: str,
    purpose: str,
    uploaded_by: str,
    max_bytes: int | None = None,
) -> int:
    """Keep a file once per (empresa, sha256); returns the stored_files id.

    ``max_bytes`` defaults to UPLOAD_MAX_FILE_BYTES (files a person sends); files the platform
    renders itself pass their own bound.
    """
    if not data:
        raise InvalidInput("Arquivo vazio.", code="arquivo_vazio")
    limit = max_bytes if max_bytes is not None else get_settings().UPLOAD_MAX_FILE_BYTES
    if len(data) > limit:
        raise file_too_large(limit)
    sha = hashlib.sha256(data).hexdigest()
    found = session.scalar(
        select(StoredFile.id).where(StoredFile.empresa_id == empresa_id, StoredFile.sha256 == sha)
    )
    if found is not None:
        return int(found)
    key = f"{purpose}/{empresa_id}/{sha[:2]}/{sha}"
    get_storage().put(key, data, content_type=content_type)
    values = dict(
        empresa_id=empresa_id,
        sha256=sha,
        size=len(data),
        content_type=content_type[:100],
        original_name=(filename or "arquivo")[:255],
        storage_key=key,
        purpose=purpose[:20],
        uploaded_by=uploaded_by[:200],
    )
    created = insert_ignore(session, StoredFile, [values], index_elements=["empresa_id", "sha256"])
    new_id = created[0][0] if created else None
    if new_id is None:  # a concurrent request stored the same bytes first
        new_id = session.scalar(
            select(StoredFile.id).where(
                StoredFile.empresa_id == empresa_id, StoredFile.sha256 == sha
            )
        )
    return int(new_id)  # type: ignore[arg-type]
