"""Members of an uploaded zip: read from the stored zip (one object write per zip), checked
against the sha256 recorded at reception, and written as objects of their own on download."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.documents.admin import document_download_url
from app.files.content import read_content
from app.storage import get_storage
from models import StoredFile, Upload
from tests.services.test_documents_ingest import (
    CNPJ,
    OTHER,
    chave_of,
    doc_by_chave,
    files_of,
    make_empresa,
    process,
    upload,
)
from tests.support.generator import make_nfe


def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _stored(session: Session, sid: int | None) -> StoredFile:
    assert sid is not None
    row = session.get(StoredFile, sid)
    assert row is not None
    return row


def test_members_live_in_the_stored_zip_and_are_indexed_from_it(db: Session) -> None:
    emp = make_empresa(db)
    docs = {f"nfe/{i}.xml": make_nfe(CNPJ, OTHER, numero=100 + i) for i in range(3)}
    loose = make_nfe(CNPJ, OTHER, numero=200)
    up = upload(db, emp, [("lote.zip", _zip(docs)), ("solta.xml", loose)])
    storage = get_storage()
    rows = {f.original_name: f for f in files_of(db, up)}
    zip_row = db.scalars(select(StoredFile).where(StoredFile.original_name == "lote.zip")).one()
    assert storage.exists(zip_row.storage_key)
    with zipfile.ZipFile(io.BytesIO(storage.get(zip_row.storage_key))) as zf:
        where = {
            i.filename: (i.header_offset, i.compress_size, i.compress_type) for i in zf.infolist()
        }
    for name, data in docs.items():
        member = _stored(db, rows[f"lote.zip/{name}"].stored_file_id)
        assert (member.container_id, member.member_name) == (zip_row.id, name)
        # its place in the zip, from the central directory at reception (readers go straight there)
        assert (member.member_offset, member.member_csize, member.member_method) == where[name]
        assert not storage.exists(member.storage_key)  # no object per member
        assert read_content(db, storage, member) == data
    plain = _stored(db, rows["solta.xml"].stored_file_id)
    assert plain.container_id is None and storage.get(plain.storage_key) == loose

    result = process(db, up)
    assert result["status"] == "concluido", result
    for data in [*docs.values(), loose]:
        assert doc_by_chave(db, emp, chave_of(data)).status == "autorizada"


def test_download_writes_the_member_object_once(db: Session) -> None:
    emp = make_empresa(db)
    data = make_nfe(CNPJ, OTHER, numero=300)
    up = upload(db, emp, [("lote.zip", _zip({"a.xml": data}))])
    process(db, up)
    doc = doc_by_chave(db, emp, chave_of(data))
    member = _stored(db, doc.stored_file_id)
    assert member.container_id is not None
    url, _ = document_download_url(db, storage=get_storage(), document_id=doc.id, expires_in=60)
    assert "/api/files/" in url
    assert member.container_id is None  # now an object of its own
    assert get_storage().get(member.storage_key) == data
    written = get_storage().root / member.storage_key  # type: ignore[attr-defined]
    first = written.stat().st_ino
    document_download_url(db, storage=get_storage(), document_id=doc.id, expires_in=60)
    assert written.stat().st_ino == first  # not written again (a write replaces the inode)


def test_a_zip_changed_or_lost_in_storage_quarantines_its_members(db: Session) -> None:
    emp = make_empresa(db)
    good = {"a.xml": make_nfe(CNPJ, OTHER, numero=400), "b.xml": make_nfe(CNPJ, OTHER, numero=401)}
    other = make_empresa(db, OTHER)
    up_changed = upload(db, emp, [("lote.zip", _zip(good))])
    lost = {"c.xml": make_nfe(OTHER, CNPJ, numero=402)}
    up_lost = upload(db, other, [("perdido.zip", _zip(lost))])
    storage = get_storage()
    zips = {
        z.original_name: z
        for z in db.scalars(select(StoredFile).where(StoredFile.original_name.like("%.zip")))
    }
    # Same member names, other bytes (e.g. an object overwritten by mistake) → not classified.
    forged = {"a.xml": make_nfe(CNPJ, OTHER, numero=999), "b.xml": b"<x/>"}
    storage.put(zips["lote.zip"].storage_key, _zip(forged))
    storage.delete(zips["perdido.zip"].storage_key)

    assert process(db, up_changed)["status"] == "concluido_com_erros"
    for f in files_of(db, up_changed):
        assert (f.status, f.error_code) == ("quarentena", "conteudo_corrompido"), f.original_name
        assert f.error_message and "sha256" in f.error_message
    assert process(db, up_lost)["erros"] == {"arquivo_nao_encontrado": 1}


def test_a_storage_failure_during_reception_fails_the_upload_whole(
    db: Session, tmp_path: Path
) -> None:
    from app.documents.reception import IncomingFile, receive_upload
    from app.errors import StorageError
    from app.storage.local import LocalStorage
    from tests.services.test_documents_ingest import LIMITS

    emp = make_empresa(db)
    blocker = tmp_path / "not-a-dir"
    blocker.write_bytes(b"")  # the storage root below a regular file: every write fails
    broken = LocalStorage(blocker / "root", secret="x" * 32, base_url="http://localhost")
    files = [("solta.xml", make_nfe(CNPJ, OTHER, numero=500))] + [
        (f"l{i}.zip", _zip({f"{j}.xml": make_nfe(CNPJ, OTHER, numero=600 + 10 * i + j)
                            for j in range(3)}))
        for i in range(2)
    ]  # fmt: skip
    with pytest.raises(StorageError):
        receive_upload(
            db, storage=broken, empresa_id=emp, uploaded_by="teste", limits=LIMITS,
            files=[IncomingFile(n, "application/xml", io.BytesIO(d)) for n, d in files],
        )  # fmt: skip


class _Pipe(io.RawIOBase):
    """A non-seekable stream (e.g. a request body read as it arrives)."""

    def __init__(self, data: bytes) -> None:
        self._buf = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        chunk = self._buf.read(len(b))
        b[: len(chunk)] = chunk
        return len(chunk)


def test_a_zip_from_a_non_seekable_stream_is_received_the_same_way(db: Session) -> None:
    from app.documents.reception import IncomingFile, receive_upload
    from tests.services.test_documents_ingest import LIMITS

    emp = make_empresa(db)
    docs = {f"{i}.xml": make_nfe(CNPJ, OTHER, numero=700 + i) for i in range(3)}
    up = receive_upload(
        db, storage=get_storage(), empresa_id=emp, uploaded_by="teste", limits=LIMITS,
        files=[IncomingFile("lote.zip", "application/zip", _Pipe(_zip(docs)))],  # type: ignore[arg-type]
    )  # fmt: skip
    assert up.summary["recebidos"] == 3 and up.summary["zips"][0]["nome"] == "lote.zip"
    assert process(db, up.id)["status"] == "concluido"
    for data in docs.values():
        assert doc_by_chave(db, emp, chave_of(data)).status == "autorizada"


def test_reception_stores_each_content_once_per_empresa(db: Session) -> None:
    emp, other = make_empresa(db), make_empresa(db, OTHER)
    a, b = make_nfe(CNPJ, OTHER, numero=700), make_nfe(CNPJ, OTHER, numero=701)
    lote = _zip({"a.xml": a, "b.xml": b})

    def stored(empresa: int) -> int:
        q = select(StoredFile).where(StoredFile.empresa_id == empresa)
        return len(db.scalars(q).all())

    first = db.get(Upload, upload(db, emp, [("lote.zip", lote), ("a-solta.xml", a)]))
    assert first is not None and stored(emp) == 3  # the zip and its two members; a once
    assert (first.summary["armazenados_novos"], first.summary["ja_armazenados"]) == (3, 0)
    member_a, _, loose_a = (r.stored_file_id for r in files_of(db, first.id))
    assert member_a == loose_a  # the same bytes twice in one upload: one stored file
    again = db.get(Upload, upload(db, emp, [("de-novo.zip", lote)]))
    assert again is not None and stored(emp) == 3
    assert (again.summary["armazenados_novos"], again.summary["ja_armazenados"]) == (0, 3)
    rows = files_of(db, again.id)
    assert [r.stored_file_id for r in rows] == [r.stored_file_id for r in files_of(db, first.id)][
        :2
    ]
    upload(db, other, [("lote.zip", lote)])  # another empresa keeps its own copy
    assert stored(other) == 3
