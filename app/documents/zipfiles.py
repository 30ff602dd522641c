"""Safe expansion of uploaded .zip archives (one level deep, bounded in count, size and ratio).

Limits are data (:class:`ZipLimits`). Whole-archive problems raise :class:`InvalidInput` with a
stable code (the archive itself is then quarantined by the caller); per-entry problems yield a
:class:`ZipEntry` carrying an ``error_code`` so the rest of the archive is still processed.

==========================  ==================================================================
``zip_invalido``            not a readable zip (corrupt, encrypted, truncated)
``zip_bomba``               too many entries, too much uncompressed data or a ratio typical of
                            a decompression bomb (checked on the declared sizes *and* while
                            reading, since declared sizes can lie)
``zip_caminho_invalido``    an entry path that is absolute or climbs out (``../``) — zip slip
``zip_link_simbolico``      a symbolic-link entry (never followed)
``zip_aninhado``            a zip inside the zip: only one level is expanded (kept, not opened)
``arquivo_muito_grande``    one entry above the per-file limit
==========================  ==================================================================
"""

from __future__ import annotations

import io
import stat
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import IO

from app.errors import InvalidInput

__all__ = ["ZIP_MAGIC", "ZipEntry", "ZipLimits", "is_zip", "iter_zip"]

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


@dataclass(frozen=True, slots=True)
class ZipLimits:
    """Bounds for one archive; defaults fit an office's monthly XML export."""

    max_entries: int = 50_000
    max_total_bytes: int = 1024 * 1024 * 1024
    max_file_bytes: int = 5 * 1024 * 1024
    # XML compresses ~10-30x; 200x is only reached by crafted bombs (42.zip is ~10^6).
    max_ratio: int = 200


@dataclass(frozen=True, slots=True)
class ZipEntry:
    """One member: its name and bytes, or the reason it was refused (data may be empty), and
    where its bytes are in the archive (local header offset, compressed size, method)."""

    name: str
    data: bytes
    error_code: str | None = None
    error_message: str | None = None
    location: tuple[int, int, int] | None = None


# code → pt-BR message (rules as data)
MESSAGES: dict[str, str] = {
    "zip_invalido": "Arquivo .zip corrompido, criptografado ou ilegível.",
    "zip_bomba": "Arquivo .zip suspeito de bomba de descompactação (limites excedidos).",
    "zip_caminho_invalido": "Caminho inválido dentro do .zip (absoluto ou com '..').",
    "zip_link_simbolico": "Links simbólicos dentro do .zip não são aceitos.",
    "zip_aninhado": "Arquivo .zip dentro de .zip não é expandido (apenas um nível).",
    "arquivo_muito_grande": "Arquivo maior que o limite por arquivo.",
}


def is_zip(name: str, head: bytes) -> bool:
    """True when a file is a zip archive (by magic bytes, or by name when empty)."""
    return head.startswith(ZIP_MAGIC) or (not head and name.lower().endswith(".zip"))


def _bad(code: str, **details: object) -> InvalidInput:
    return InvalidInput(MESSAGES[code], code=code, **details)


def _path_error(name: str) -> str | None:
    norm = name.replace("\\", "/")
    path = PurePosixPath(norm)
    if norm.startswith("/") or (len(norm) > 1 and norm[1] == ":") or ".." in path.parts:
        return "zip_caminho_invalido"
    return None


def _location(info: zipfile.ZipInfo) -> tuple[int, int, int]:
    return info.header_offset, info.compress_size, info.compress_type


def _refused(info: zipfile.ZipInfo, code: str, data: bytes = b"") -> ZipEntry:
    return ZipEntry(info.filename, data, code, MESSAGES[code], _location(info))


def _read_bounded(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes | None:
    """Read at most ``limit`` bytes of a member; None when it holds more (declared size lied)."""
    with zf.open(info) as fh:  # one bounded read: ZipExtFile inflates at most limit + 1 bytes
        data = fh.read(limit + 1)
    return None if len(data) > limit else data


def _open(source: bytes | IO[bytes]) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise _bad("zip_invalido", detail=str(exc)) from exc


def iter_zip(source: bytes | IO[bytes], limits: ZipLimits | None = None) -> Iterator[ZipEntry]:
    """Yield the archive's files one at a time (from bytes or a seekable file, read piecewise);
    raise InvalidInput for a bad archive."""
    lim = limits or ZipLimits()
    zf = _open(source)
    with zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        declared = sum(i.file_size for i in infos)
        compressed = max(sum(i.compress_size for i in infos), 1)
        if len(infos) > lim.max_entries:
            raise _bad("zip_bomba", entries=len(infos), max_entries=lim.max_entries)
        if declared > lim.max_total_bytes or declared / compressed > lim.max_ratio:
            raise _bad("zip_bomba", declared_bytes=declared, compressed_bytes=compressed)
        budget = lim.max_total_bytes
        for info in infos:
            if code := _path_error(info.filename):
                yield _refused(info, code)
                continue
            if stat.S_ISLNK(info.external_attr >> 16):
                yield _refused(info, "zip_link_simbolico")
                continue
            if info.file_size > lim.max_file_bytes:
                yield _refused(info, "arquivo_muito_grande")
                continue
            if info.flag_bits & 0x1:
                raise _bad("zip_invalido", detail="entrada criptografada")
            try:
                content = _read_bounded(zf, info, min(lim.max_file_bytes, budget))
            except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
                raise _bad("zip_invalido", detail=str(exc)) from exc
            except NotImplementedError as exc:  # unsupported compression method
                raise _bad("zip_invalido", detail=str(exc)) from exc
            if content is None:  # declared sizes lied: a bomb
                raise _bad("zip_bomba", entry=info.filename)
            budget -= len(content)
            if is_zip(info.filename, content[:4]):
                yield _refused(info, "zip_aninhado", content)
                continue
            yield ZipEntry(info.filename, content, location=_location(info))
