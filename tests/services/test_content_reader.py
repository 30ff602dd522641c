"""Reading zip members by local path, as the ingest pool's workers do (no database)."""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from app.errors import StorageError
from app.files.reader import ContentRef, close_local, read_local

BODY = b"<nfeProc>" + b"<det>x</det>" * 2_000 + b"</nfeProc>"


@pytest.fixture(autouse=True)
def _closed() -> Iterator[None]:
    yield
    close_local()


def _ref(path: Path, member: str, data: bytes = BODY) -> ContentRef:
    return ContentRef("", hashlib.sha256(data).hexdigest(), len(data), str(path), member)


def _zip(path: Path, compression: int) -> Path:
    with zipfile.ZipFile(path, "w", compression) as zf:
        zf.writestr("a/nota.xml", BODY)
        zf.writestr("vazio.xml", b"")
    return path


@pytest.mark.parametrize(
    "compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA]
)
def test_every_compression_reads_the_received_bytes(tmp_path: Path, compression: int) -> None:
    path = _zip(tmp_path / "lote.zip", compression)
    assert read_local(_ref(path, "a/nota.xml")) == BODY
    assert read_local(_ref(path, "vazio.xml", b"")) == b""


def _code(ref: ContentRef) -> str:
    with pytest.raises(StorageError) as err:
        read_local(ref)
    return err.value.code


def test_damaged_member_is_corrupt_not_a_crash(tmp_path: Path) -> None:
    path = _zip(tmp_path / "lote.zip", zipfile.ZIP_DEFLATED)
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("a/nota.xml")
    raw = bytearray(path.read_bytes())
    raw[info.header_offset + 60 : info.header_offset + 90] = b"\xff" * 30  # deflate stream
    damaged = tmp_path / "danificado.zip"
    damaged.write_bytes(bytes(raw))
    assert _code(_ref(damaged, "a/nota.xml")) == "conteudo_corrompido"
    raw[info.header_offset : info.header_offset + 4] = b"XXXX"  # local header signature
    no_header = tmp_path / "sem_cabecalho.zip"
    no_header.write_bytes(bytes(raw))
    assert _code(_ref(no_header, "a/nota.xml")) == "conteudo_corrompido"


def test_other_bytes_size_or_member_are_refused(tmp_path: Path) -> None:
    path = _zip(tmp_path / "lote.zip", zipfile.ZIP_DEFLATED)
    other = BODY.replace(b"x", b"y")
    forged = ContentRef("", hashlib.sha256(other).hexdigest(), len(BODY), str(path), "a/nota.xml")
    assert _code(forged) == "conteudo_corrompido"
    bigger = ContentRef(
        "", hashlib.sha256(BODY).hexdigest(), len(BODY) + 1, str(path), "a/nota.xml"
    )
    assert _code(bigger) == "conteudo_corrompido"
    assert _code(_ref(path, "b/outra.xml")) == "arquivo_nao_encontrado"
    assert _code(_ref(tmp_path / "sumiu.zip", "a/nota.xml")) == "arquivo_nao_encontrado"
    (tmp_path / "nao_zip.zip").write_bytes(b"isto nao e um zip")
    assert _code(_ref(tmp_path / "nao_zip.zip", "a/nota.xml")) == "conteudo_corrompido"


def _located(path: Path, member: str, data: bytes = BODY) -> ContentRef:
    """The reference reception records: with the member's place in the zip."""
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(member)
    loc = (info.header_offset, info.compress_size, info.compress_type)
    return ContentRef("", hashlib.sha256(data).hexdigest(), len(data), str(path), member, *loc)


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_a_located_member_is_read_without_the_central_directory(
    tmp_path: Path, compression: int
) -> None:
    """Workers reading members by their recorded place never parse the central directory
    (memory flat in the number of members): a zip whose directory is gone still reads, while
    a reference by name alone cannot."""
    path = _zip(tmp_path / "lote.zip", compression)
    located = _located(path, "a/nota.xml")
    with zipfile.ZipFile(path) as zf:
        directory = zf.start_dir  # where the central directory begins
    headless = tmp_path / "sem_diretorio.zip"
    headless.write_bytes(path.read_bytes()[:directory])  # central directory cut off
    assert read_local(replace(located, container=str(headless))) == BODY
    assert _code(_ref(headless, "a/nota.xml")) == "conteudo_corrompido"
    # a wrong place is caught (header signature, then size and sha256), never other bytes
    assert _code(replace(located, offset=(located.offset or 0) + 1)) == "conteudo_corrompido"
