"""Files of multipart forms: read with the configured size limit (one oversize answer)."""

from __future__ import annotations

from fastapi import UploadFile

from app.errors import file_too_large
from app.settings import get_settings

__all__ = ["read_file"]


def read_file(upload: UploadFile) -> bytes:
    """The bytes of an uploaded file; 422 ``arquivo_muito_grande`` above UPLOAD_MAX_FILE_BYTES."""
    limit = get_settings().UPLOAD_MAX_FILE_BYTES
    data = upload.file.read(limit + 1)
    if len(data) > limit:
        raise file_too_large(limit)
    return data
