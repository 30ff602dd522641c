"""Downloads through HMAC-signed, expiring links (local-disk backend)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from app.settings import get_settings
from app.storage import get_storage
from app.storage.base import attachment_name
from app.storage.signing import verify

router = APIRouter(tags=["arquivos"])


@router.get("/api/files/{token}")
def download(token: str) -> Response:
    """Serve the file a valid, unexpired token names; 403 for tampered/expired links."""
    data = verify(get_settings().APP_KEY.get_secret_value(), token)
    content = get_storage().get(data["k"])
    filename = data.get("f") or data["k"].rsplit("/", 1)[-1]
    safe = attachment_name(filename)
    return Response(
        content,
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="{safe}"',
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )
