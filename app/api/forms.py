"""Files of multipart forms: read with the configured size limits (one oversize answer)."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import UploadFile

from app.errors import InvalidInput, file_too_large
from app.settings import get_settings

__all__ = ["read_file", "read_files"]


def read_file(upload: UploadFile) -> bytes:
    """The bytes of an uploaded file; 422 ``arquivo_muito_grande`` above UPLOAD_MAX_FILE_BYTES."""
    limit = get_settings().UPLOAD_MAX_FILE_BYTES
    data = upload.file.read(limit + 1)
    if len(data) > limit:
        raise file_too_large(limit)
    return data


def read_files(
    uploads: Sequence[UploadFile] | None, *, max_files: int, too_many: str
) -> list[tuple[UploadFile, bytes]]:
    """The files of one call with their bytes: at most ``max_files`` (422 ``arquivos_demais``
    with the message ``too_many``), each within UPLOAD_MAX_FILE_BYTES and all together within
    UPLOAD_MAX_TOTAL_BYTES (422 ``limite_total_excedido``): nothing is kept from a refused call."""
    uploads = uploads or []
    if len(uploads) > max_files:
        raise InvalidInput(too_many, code="arquivos_demais")
    total_limit, total, out = get_settings().UPLOAD_MAX_TOTAL_BYTES, 0, []
    for upload in uploads:
        data = read_file(upload)
        total += len(data)
        if total > total_limit:
            raise InvalidInput(
                "O total enviado excede o limite por envio.", code="limite_total_excedido"
            )
        out.append((upload, data))
    return out
