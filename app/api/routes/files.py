"""Public links (no token): each one is authenticated by its own HMAC signature and expiry.

- ``GET /api/files/{token}``: a signed download of the local-disk backend.
- ``GET /api/guias/abrir/{token}``: the tracked link of a guide message. It records a
  ``visualizada`` event (time, IP, user agent) and redirects (302) to a short-lived signed URL of
  the PDF; an expired or tampered link is a 403 (``link_expirado`` / ``link_invalido``) and
  records nothing.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from app.api.deps import DbSession
from app.guides import protocol
from app.settings import get_settings
from app.storage import get_storage
from app.storage.base import attachment_name
from app.storage.signing import verify

router = APIRouter(tags=["arquivos"])


@router.get("/files/{token}")
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


@router.get("/guias/abrir/{token}", include_in_schema=False)
def open_tracked_link(token: str, request: Request, session: DbSession) -> RedirectResponse:
    """Public tracked link: record the view, then redirect to the PDF (403 when invalid)."""
    ip = request.client.host if request.client else None
    key, filename = protocol.record_view(
        session, token=token, ip=ip, user_agent=request.headers.get("user-agent")
    )
    ttl = get_settings().SIGNED_URL_TTL_SECONDS
    url = get_storage().signed_url(key, expires_in=ttl, filename=filename)
    return RedirectResponse(url, status_code=302, headers={"Cache-Control": "no-store"})
