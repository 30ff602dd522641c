"""What a client may see of an upload: who sent it, and whether it may download its files.

A client sees who sent an upload when it was one of the empresa's own (client) tokens; the
office's token names and ids are internal ("escritório"). A client downloads the files of an
upload only when the empresa's own people sent it: an upload the office made for the empresa
may hold another empresa's documents (quarantined as foreign), which its client must never read.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from app.errors import PermissionDenied
from app.platform.tokens import client_actors
from models import Upload

__all__ = ["OFFICE_SENDER", "check_file_download", "senders_shown"]

OFFICE_SENDER = "escritório"


def senders_shown(
    session: Session, uploads: Sequence[Upload], *, viewer_is_office: bool
) -> dict[int, str]:
    """Upload id → the sender the viewer may see (office senders hidden from clients)."""
    if viewer_is_office:
        return {u.id: u.uploaded_by for u in uploads}
    clients = client_actors(session, [u.uploaded_by for u in uploads])
    return {u.id: u.uploaded_by if u.uploaded_by in clients else OFFICE_SENDER for u in uploads}


def check_file_download(session: Session, upload: Upload, *, viewer_is_office: bool) -> None:
    """403 ``somente_escritorio`` when a client asks for a file of an upload the office sent."""
    if not viewer_is_office and not client_actors(session, [upload.uploaded_by]):
        raise PermissionDenied(
            "Arquivos de envios feitos pelo escritório só podem ser baixados pelo escritório.",
            code="somente_escritorio",
        )
