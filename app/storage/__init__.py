"""Storage backends chosen by FILESYSTEM_DISK at one composition root: :func:`get_storage`."""

from __future__ import annotations

from functools import lru_cache

from app.settings import get_settings
from app.storage.base import Storage

__all__ = ["Storage", "get_storage", "reset_storage"]


@lru_cache(maxsize=1)
def get_storage() -> Storage:
    """The configured backend (local disk in DEV, S3/MinIO in homolog and production)."""
    s = get_settings()
    if s.FILESYSTEM_DISK == "s3":
        from app.storage.s3 import S3Storage

        return S3Storage(
            bucket=s.S3_BUCKET,
            access_key=s.S3_ACCESS_KEY.get_secret_value(),
            secret_key=s.S3_SECRET_KEY.get_secret_value(),
            region=s.S3_REGION,
            endpoint=s.S3_ENDPOINT or None,
            sse=s.S3_SSE,
        )
    from app.storage.local import LocalStorage

    return LocalStorage(s.storage_root, secret=s.APP_KEY.get_secret_value(), base_url=s.APP_URL)


def reset_storage() -> None:
    """Forget the backend (tests that change settings)."""
    get_storage.cache_clear()
