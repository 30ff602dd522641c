"""Storage protocol shared by the local-disk and S3 backends.

A backend whose files are on this machine may also offer ``local_path(key) -> Path`` (local
disk does): the ingest flow then lets its worker processes open stored zips in place instead of
copying them (:meth:`app.files.reader.ContentReader.local_copy`).
"""

from __future__ import annotations

from typing import IO, Protocol

__all__ = ["Storage", "attachment_name"]


def attachment_name(filename: str) -> str:
    """A file name safe inside ``Content-Disposition: attachment; filename="…"``: letters,
    digits, ``._-`` only (uploaded and zip-member names are the client's; a quote or a
    non-Latin-1 character would break the header or the presigned URL)."""
    return "".join(ch for ch in filename if ch.isascii() and (ch.isalnum() or ch in "._-")) or (
        "arquivo"
    )


class Storage(Protocol):
    """Private object storage: files are never public, downloads go through signed URLs."""

    name: str

    def put(self, key: str, data: bytes, *, content_type: str = "application/octet-stream") -> None:
        """Store bytes under key (overwrites)."""

    def put_file(
        self, key: str, fh: IO[bytes], *, content_type: str = "application/octet-stream"
    ) -> None:
        """Store the rest of a binary file under key, streamed (a large upload never in memory)."""

    def get(self, key: str) -> bytes:
        """Read the bytes of key; StorageError(code='arquivo_nao_encontrado') when absent."""

    def open(self, key: str) -> IO[bytes]:
        """A seekable binary file with the bytes of key (the caller closes it); for reading a
        large object piecewise (a zip's members) without holding it in memory."""

    def exists(self, key: str) -> bool:
        """True when key exists."""

    def delete(self, key: str) -> None:
        """Remove key (callers audit the deletion)."""

    def signed_url(self, key: str, *, expires_in: int, filename: str | None = None) -> str:
        """A URL that downloads key until it expires."""

    def ping(self) -> None:
        """Raise StorageError when the backend is unreachable."""
