"""The backup target: a storage of its own (never the data's bucket), optionally encrypted here.

Layout (restic-like, content-addressed):

    objects/<sha256[:2]>/<sha256>      every stored file, copied once whatever the day
    days/<YYYY-MM-DD>/db.dump          pg_dump --format=custom of that day
    days/<YYYY-MM-DD>/manifest.json    storage key → sha256, size, empresa (restore as of D)
    days/<YYYY-MM-DD>/logs/*.jsonl.gz  audit log, guide delivery protocol, operational logs
    days/<YYYY-MM-DD>/catalogo.json    what was written, sizes, hashes, row counts
    days/<YYYY-MM-DD>/legal-hold.json  present → the day is never pruned

With ``BACKUP_ENCRYPTION_KEY`` every object is sealed with AES-256-GCM (NIST SP 800-38D) before
it leaves the machine, on top of any server-side encryption (``BACKUP_S3_SSE``).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.errors import StorageError
from app.settings import Settings
from app.storage.base import Storage

__all__ = ["BackupTarget", "get_backup_target", "object_key", "day_prefix"]

_MAGIC = b"CTBK1"


def object_key(sha256: str) -> str:
    """Where the content with this sha256 lives in the target."""
    return f"objects/{sha256[:2]}/{sha256}"


def day_prefix(day: str) -> str:
    """Folder of one day's backup (``YYYY-MM-DD``)."""
    return f"days/{day}"


class BackupTarget:
    """Put/get/list/delete on the backup storage; seals objects when a key is configured."""

    def __init__(self, storage: Storage, *, encryption_key: str = "") -> None:
        self.storage = storage
        self.name = storage.name
        self._aead = (
            AESGCM(hashlib.sha256(encryption_key.encode()).digest()) if encryption_key else None
        )

    @property
    def encrypted(self) -> bool:
        """True when objects are sealed client-side."""
        return self._aead is not None

    def put(self, key: str, data: bytes) -> None:
        """Store data under key (sealed when encryption is on)."""
        if self._aead is not None:
            nonce = os.urandom(12)
            data = _MAGIC + nonce + self._aead.encrypt(nonce, data, key.encode())
        self.storage.put(key, data)

    def get(self, key: str) -> bytes:
        """The plaintext of key; StorageError(code='backup_corrompido') when it does not open."""
        data = self.storage.get(key)
        if self._aead is None:
            return data
        if not data.startswith(_MAGIC):
            raise StorageError(
                f"Objeto do backup não cifrado/corrompido: {key}", code="backup_corrompido"
            )
        nonce, sealed = data[len(_MAGIC) : len(_MAGIC) + 12], data[len(_MAGIC) + 12 :]
        try:
            return self._aead.decrypt(nonce, sealed, key.encode())
        except InvalidTag as exc:
            raise StorageError(
                f"Objeto do backup corrompido: {key}", code="backup_corrompido"
            ) from exc

    def exists(self, key: str) -> bool:
        """True when key exists."""
        return self.storage.exists(key)

    def delete(self, key: str) -> None:
        """Remove key."""
        self.storage.delete(key)

    def ping(self) -> None:
        """StorageError when the target is unreachable (checked before anything is dumped)."""
        self.storage.ping()

    def keys(self, prefix: str) -> Iterator[str]:
        """Every key under prefix (the Storage protocol has no listing: per backend here)."""
        root = getattr(self.storage, "root", None)
        if isinstance(root, Path):
            base = root / prefix
            if not base.exists():
                return
            for path in sorted(base.rglob("*")):
                if path.is_file() and not path.name.startswith(".tmp-"):
                    yield path.relative_to(root).as_posix()
            return
        client: Any = getattr(self.storage, "client", None)
        bucket = getattr(self.storage, "bucket", None)
        if client is None or bucket is None:
            raise StorageError("Destino de backup sem listagem", code="backup_sem_listagem")
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            for page in client.get_paginator("list_objects_v2").paginate(
                Bucket=bucket, Prefix=prefix
            ):
                for item in page.get("Contents", []):
                    yield str(item["Key"])
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"S3: falha ao listar {prefix}: {exc}") from exc

    def days(self) -> list[str]:
        """Days with a manifest in the target, oldest first."""
        out = {k.split("/")[1] for k in self.keys("days/") if k.endswith("/manifest.json")}
        return sorted(out)


def get_backup_target(settings: Settings) -> BackupTarget:
    """The configured backup target (a local directory in DEV, its own S3 bucket in production)."""
    key = settings.BACKUP_ENCRYPTION_KEY.get_secret_value()
    if settings.BACKUP_DISK == "s3":
        from app.storage.s3 import S3Storage

        storage: Storage = S3Storage(
            bucket=settings.BACKUP_S3_BUCKET,
            access_key=settings.BACKUP_S3_ACCESS_KEY.get_secret_value(),
            secret_key=settings.BACKUP_S3_SECRET_KEY.get_secret_value(),
            region=settings.BACKUP_S3_REGION,
            endpoint=settings.BACKUP_S3_ENDPOINT or None,
            sse=settings.BACKUP_S3_SSE,
        )
        return BackupTarget(storage, encryption_key=key)
    from app.storage.local import LocalStorage

    root = settings.backup_local_root
    if root == settings.storage_root:
        from app.errors import ConfigError

        raise ConfigError(["BACKUP_LOCAL_ROOT não pode ser o mesmo diretório dos dados"])
    storage = LocalStorage(
        root, secret=settings.APP_KEY.get_secret_value(), base_url=settings.APP_URL
    )
    return BackupTarget(storage, encryption_key=key)
