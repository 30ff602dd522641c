"""The bytes of a stored file: an object of its own, or a member of a stored .zip.

Members of an uploaded zip are not written as objects at reception (issue 3, item 9: a zip of
10,000 XMLs would cost 10,000 object writes in the API and 10,000 reads in the flow). Their
``stored_files`` row points at the zip (``container_id``, ``member_name``); this module reads
them from it, checking size and sha256, so what is classified is exactly what was received.
A download needs an object of its own (S3 presigned URLs point at objects): :func:`materialize`
writes it once under the row's own ``storage_key`` and clears ``container_id``.

:class:`ContentReader` (in :mod:`app.files.reader`, which has no database code so
that the ingest pool's workers can import it) opens each zip once and keeps the last few open;
the ingest flow hands the workers local paths and they read the members themselves.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, aliased

from app.files.reader import (
    ContentReader,
    ContentRef,
    close_local,
    gone_code,
)
from app.storage.base import Storage
from models import StoredFile

__all__ = [
    "gone_code",
    "ContentRef",
    "ContentReader",
    "close_shared",
    "content_columns",
    "materialize",
    "read_content",
    "refs_for",
    "shared_reader",
    "with_container",
]

_CONTAINER = aliased(StoredFile)


def content_columns() -> tuple[Any, ...]:
    """The columns of a :class:`ContentRef`, for a select that joins :func:`with_container`."""
    return (
        StoredFile.storage_key,
        StoredFile.sha256,
        StoredFile.size,
        _CONTAINER.storage_key,
        StoredFile.member_name,
        StoredFile.member_offset,
        StoredFile.member_csize,
        StoredFile.member_method,
    )


def with_container(query: Select[Any]) -> Select[Any]:
    """``query`` (which selects from stored_files) joined to each file's zip, if any."""
    return query.outerjoin(_CONTAINER, _CONTAINER.id == StoredFile.container_id)


def refs_for(session: Session, stored_ids: Iterable[int | None]) -> dict[int, ContentRef]:
    """ContentRef per stored file id (one query)."""
    q = with_container(select(StoredFile.id, *content_columns())).where(
        StoredFile.id.in_([i for i in stored_ids if i is not None])
    )
    return {sid: ContentRef(*cols) for sid, *cols in session.execute(q).tuples()}


_shared: dict[int, ContentReader] = {}
_shared_lock = threading.Lock()


def shared_reader(storage: Storage) -> ContentReader:
    """The process-wide reader for ``storage`` (kept across a flow's batches)."""
    with _shared_lock:
        reader = _shared.get(id(storage))
        if reader is None or reader.storage is not storage:
            reader = _shared[id(storage)] = ContentReader(storage)
        return reader


def close_shared() -> None:
    """Close the containers kept open by :func:`shared_reader` and
    :func:`~app.files.reader.read_local`, remove temporary copies (end of a flow run)."""
    with _shared_lock:
        readers = list(_shared.values())
        _shared.clear()
    for reader in readers:
        reader.close()
    close_local()


def read_content(session: Session, storage: Storage, stored: StoredFile) -> bytes:
    """The bytes of one stored file (its own object or its zip member)."""
    reader = ContentReader(storage)
    try:
        return reader.read(refs_for(session, [stored.id])[stored.id])
    finally:
        reader.close()


def materialize(session: Session, storage: Storage, stored: StoredFile) -> None:
    """Make sure the file is an object of its own under ``storage_key`` (for a signed URL)."""
    if stored.container_id is None:
        return
    data = read_content(session, storage, stored)
    storage.put(stored.storage_key, data, content_type=stored.content_type)
    stored.container_id = None
    session.flush()
