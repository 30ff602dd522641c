"""The bytes of a stored file: an object of its own, or a member of a stored .zip.

Members of an uploaded zip are not written as objects at reception (issue 3, item 9: a zip of
10,000 XMLs would cost 10,000 object writes in the API and 10,000 reads in the flow). Their
``stored_files`` row points at the zip (``container_id``, ``member_name``); this module reads
them from it, checking size and sha256, so what is classified is exactly what was received.
A download needs an object of its own (S3 presigned URLs point at objects): :func:`materialize`
writes it once under the row's own ``storage_key`` and clears ``container_id``.

:class:`ContentReader` opens each zip once and keeps the last few open (a flow processes one
upload's batches in order); it is thread-safe (the flow's prefetch thread reads too).
"""

from __future__ import annotations

import hashlib
import threading
import zipfile
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO, Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, aliased

from app.errors import StorageError
from app.storage.base import Storage
from models import StoredFile

__all__ = [
    "GONE",
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

_MISSING = "arquivo_nao_encontrado"
_CORRUPT = "conteudo_corrompido"
# StorageError codes meaning the bytes are not there (or not the received ones): no retry helps.
GONE = frozenset({_MISSING, _CORRUPT})


@dataclass(frozen=True, slots=True)
class ContentRef:
    """Where a stored file's bytes are: its own object, or ``member`` of the zip ``container``."""

    key: str
    sha256: str
    size: int
    container: str | None = None
    member: str | None = None


_CONTAINER = aliased(StoredFile)


def content_columns() -> tuple[Any, ...]:
    """The columns of a :class:`ContentRef`, for a select that joins :func:`with_container`."""
    return (
        StoredFile.storage_key,
        StoredFile.sha256,
        StoredFile.size,
        _CONTAINER.storage_key,
        StoredFile.member_name,
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


class ContentReader:
    """Reads stored files' bytes, each container zip opened once (LRU of ``max_open``)."""

    def __init__(self, storage: Storage, max_open: int = 2) -> None:
        self.storage, self.max_open = storage, max_open
        self._open: OrderedDict[str, tuple[IO[bytes], zipfile.ZipFile]] = OrderedDict()
        self._lock = threading.Lock()

    def read(self, ref: ContentRef) -> bytes:
        """The bytes; StorageError ``arquivo_nao_encontrado`` / ``conteudo_corrompido`` when
        they are gone or differ from what was received (other codes: transient, retry)."""
        if ref.container is None:
            return self.storage.get(ref.key)
        with self._lock:
            zf = self._zip(ref.container)
            try:
                info = zf.getinfo(ref.member or "")
            except KeyError as exc:
                raise StorageError(
                    f"{ref.member!r} não está em {ref.container}", code=_MISSING
                ) from exc
            if info.file_size != ref.size:
                raise StorageError(f"Tamanho divergente: {ref.member!r}", code=_CORRUPT)
            try:
                data = zf.read(info)
            except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
                raise StorageError(f"Falha ao ler {ref.member!r}: {exc}", code=_CORRUPT) from exc
        if hashlib.sha256(data).hexdigest() != ref.sha256:
            raise StorageError(f"Conteúdo divergente: {ref.member!r}", code=_CORRUPT)
        return data

    def _zip(self, key: str) -> zipfile.ZipFile:
        found = self._open.get(key)
        if found is not None:
            self._open.move_to_end(key)
            return found[1]
        fh = self.storage.open(key)
        try:
            zf = zipfile.ZipFile(fh)
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            fh.close()
            raise StorageError(f"Zip ilegível: {key}: {exc}", code=_CORRUPT) from exc
        self._open[key] = (fh, zf)
        while len(self._open) > self.max_open:
            _, (old_fh, old_zf) = self._open.popitem(last=False)
            old_zf.close()
            old_fh.close()
        return zf

    def close(self) -> None:
        """Close every open container."""
        with self._lock:
            while self._open:
                _, (fh, zf) = self._open.popitem()
                zf.close()
                fh.close()


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
    """Close the containers kept open by :func:`shared_reader` (end of a flow run)."""
    with _shared_lock:
        readers = list(_shared.values())
        _shared.clear()
    for reader in readers:
        reader.close()


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
