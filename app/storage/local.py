"""Local-disk backend (guide §8: DEV stores under storage/app); URLs signed by the API."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
from pathlib import Path
from typing import IO
from urllib.parse import quote

from app.errors import StorageError
from app.storage import signing

__all__ = ["LocalStorage"]

_COPY_CHUNK = 1024 * 1024


class LocalStorage:
    """Files under a root directory; keys are relative paths, never escaping the root."""

    name = "local"

    def __init__(self, root: Path, *, secret: str, base_url: str) -> None:
        self.root = root.resolve()
        self.secret = secret
        self.base_url = base_url.rstrip("/")

    def _path(self, key: str) -> Path:
        # Lexical check (no filesystem calls: this runs once per stored file in bulk uploads).
        # Keys are made by contab, never by users; still refuse anything that could escape.
        norm = os.path.normpath(key)
        if (
            not key
            or os.path.isabs(key)
            or norm != key.rstrip("/")
            or norm == "."
            or norm.startswith("..")
            or "\x00" in key
        ):
            raise StorageError(
                f"Chave de armazenamento inválida: {key!r}", code="chave_de_armazenamento_invalida"
            )
        return self.root / norm

    def put(self, key: str, data: bytes, *, content_type: str = "application/octet-stream") -> None:
        """Write atomically (temp file + rename) so a crash never leaves half a file."""
        self.put_file(key, io.BytesIO(data), content_type=content_type)

    def put_file(
        self, key: str, fh: IO[bytes], *, content_type: str = "application/octet-stream"
    ) -> None:
        """Copy the file in chunks, atomically (temp file + rename)."""
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")  # created 0600
        except OSError as exc:
            raise StorageError(f"Falha ao gravar {key}: {exc.strerror}") from exc
        try:
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(fh, out, _COPY_CHUNK)
            os.replace(tmp, path)
        except BaseException as exc:  # a failed copy (or a cancelled request) leaves no temp file
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            if isinstance(exc, OSError):
                raise StorageError(f"Falha ao gravar {key}: {exc.strerror}") from exc
            raise

    def get(self, key: str) -> bytes:
        """Read the bytes of key."""
        with self.open(key) as fh:
            try:
                return fh.read()
            except OSError as exc:
                raise StorageError(f"Falha ao ler {key}: {exc.strerror}") from exc

    def open(self, key: str) -> IO[bytes]:
        """The file itself, opened for reading."""
        try:
            return self._path(key).open("rb")
        except FileNotFoundError as exc:
            raise StorageError(
                f"Arquivo não encontrado: {key}", code="arquivo_nao_encontrado"
            ) from exc
        except OSError as exc:
            raise StorageError(f"Falha ao ler {key}: {exc.strerror}") from exc

    def local_path(self, key: str) -> Path:
        """Where ``key`` lives on this machine (worker processes read zips from there)."""
        return self._path(key)

    def exists(self, key: str) -> bool:
        """True when key exists."""
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        """Remove key; absent keys are fine (idempotent)."""
        try:
            self._path(key).unlink(missing_ok=True)
        except OSError as exc:
            raise StorageError(f"Falha ao remover {key}: {exc.strerror}") from exc

    def signed_url(self, key: str, *, expires_in: int, filename: str | None = None) -> str:
        """URL of the API's download route carrying an HMAC-signed, expiring token."""
        extra = {"f": filename} if filename else {}
        token = signing.sign(self.secret, key, expires_in=expires_in, extra=extra)
        return f"{self.base_url}/api/files/{quote(token)}"

    def ping(self) -> None:
        """Check the root is writable."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe = self.root / ".health"
            probe.write_bytes(b"ok")
            probe.unlink()
        except OSError as exc:
            raise StorageError(f"Armazenamento local indisponível: {exc.strerror}") from exc
