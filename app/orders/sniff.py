"""What an attachment really is, judged by its bytes, never by its name (pure, no I/O).

Accepted kinds: ``pdf``, ``imagem`` (PNG, JPEG, GIF, WebP, TIFF), ``xml`` (parsed by the one
hardened parser, :func:`app.fiscal.xmlsec.parse_untrusted`), ``zip`` (checked member by member
with the upload limits, :mod:`app.documents.zipfiles`) and ``office`` (OOXML/ODF packages and
legacy OLE2 documents). Everything else is quarantined with a per-attachment code:

- an executable (PE ``MZ``, ELF, Mach-O, a ``#!`` script), whatever its name:
  ``executavel_disfarcado`` — also when found inside a zip;
- a PDF with JavaScript or an automatic ``/Launch`` action (ISO 32000-1 §12.6.4.16 and
  §12.6.4.5): ``pdf_com_javascript``; with embedded files (§7.11.4): ``pdf_com_arquivo_embutido``.
  PDF name tokens may hide letters as ``#xx`` (§7.3.5) and objects may sit inside compressed
  object streams (§7.5.7), so names are decoded and Flate streams inflated (bounded) first;
- an encrypted PDF (§7.6) is accepted and flagged ``pdf_criptografado`` (the office cannot
  read it without the password, so staff must see it).
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field

from app.documents.zipfiles import ZipLimits, iter_zip
from app.errors import AppError
from app.fiscal.xmlsec import parse_untrusted

__all__ = ["MESSAGES", "Verdict", "sniff"]

MESSAGES: dict[str, str] = {
    "arquivo_vazio": "Arquivo vazio.",
    "arquivo_muito_grande": "Arquivo maior que o limite por anexo.",
    "executavel_disfarcado": "Programa executável (não é aceito, qualquer que seja o nome).",
    "pdf_com_javascript": "PDF com JavaScript ou ação automática (guardado em quarentena).",
    "pdf_com_arquivo_embutido": "PDF com arquivos embutidos (guardado em quarentena).",
    "tipo_de_anexo_nao_aceito": "Tipo de anexo não aceito (PDF, imagem, XML, .zip ou "
    "documento do Office).",
}
_EXECUTABLE = (b"MZ", b"\x7fELF", b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe", b"\xfe\xed\xfa",
               b"#!")  # fmt: skip
_IMAGES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"II*\x00", b"MM\x00*")
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_PDF_NAME_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
_PDF_JS = re.compile(rb"/(?:JavaScript|JS|Launch)(?![A-Za-z])")
_PDF_EMBEDDED = re.compile(rb"/EmbeddedFiles?(?![A-Za-z])")
_PDF_ENCRYPT = re.compile(rb"/Encrypt(?![A-Za-z])")
_PDF_STREAM = re.compile(rb"stream\r?\n")
_MAX_STREAMS = 500
_MAX_INFLATED = 20 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Verdict:
    """The attachment's kind when accepted, else the quarantine code and message."""

    kind: str | None
    code: str | None = None
    message: str | None = None
    flags: tuple[str, ...] = field(default=())

    @property
    def accepted(self) -> bool:
        return self.code is None


def _refuse(code: str, message: str | None = None) -> Verdict:
    return Verdict(None, code, message or MESSAGES[code])


def _pdf_text(data: bytes) -> bytes:
    """The PDF's bytes plus its inflated Flate streams, with ``#xx`` name escapes decoded."""
    parts = [data]
    budget = _MAX_INFLATED
    for n, m in enumerate(_PDF_STREAM.finditer(data)):
        if n >= _MAX_STREAMS or budget <= 0:
            break
        end = data.find(b"endstream", m.end())
        if end < 0:
            break
        inflater = zlib.decompressobj()
        try:
            out = inflater.decompress(data[m.end() : end], budget)
        except zlib.error:
            continue
        budget -= len(out)
        parts.append(out)
    return _PDF_NAME_ESCAPE.sub(lambda h: bytes([int(h.group(1), 16)]), b"\n".join(parts))


def _pdf(data: bytes) -> Verdict:
    text = _pdf_text(data)
    if _PDF_JS.search(text):
        return _refuse("pdf_com_javascript")
    if _PDF_EMBEDDED.search(text):
        return _refuse("pdf_com_arquivo_embutido")
    return Verdict("pdf", flags=("pdf_criptografado",) if _PDF_ENCRYPT.search(text) else ())


def _zip(data: bytes, max_bytes: int) -> Verdict:
    names: list[str] = []
    limits = ZipLimits(max_file_bytes=max_bytes, max_total_bytes=max(max_bytes * 4, 1))
    try:
        for entry in iter_zip(data, limits):
            if entry.error_code is not None:
                return _refuse(entry.error_code, entry.error_message)
            if entry.data.startswith(_EXECUTABLE):
                return _refuse("executavel_disfarcado")
            names.append(entry.name)
    except AppError as exc:
        return _refuse(exc.code, exc.message)
    if "[Content_Types].xml" in names or "mimetype" in names:
        flags = ("office_com_macro",) if any(n.endswith("vbaProject.bin") for n in names) else ()
        return Verdict("office", flags=flags)
    return Verdict("zip")


def _is_xml(data: bytes) -> bool:
    head = data[:64].lstrip(b"\xef\xbb\xbf\xff\xfe\x00 \t\r\n")
    return head.startswith(b"<")


def sniff(data: bytes, *, max_bytes: int) -> Verdict:
    """Judge one attachment by its content."""
    if not data:
        return _refuse("arquivo_vazio")
    if len(data) > max_bytes:
        return _refuse("arquivo_muito_grande")
    if data.startswith(_EXECUTABLE):
        return _refuse("executavel_disfarcado")
    if data[:1024].find(b"%PDF-") >= 0:  # readers accept the header within the first 1 KiB
        return _pdf(data)
    if data.startswith(_IMAGES) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP"):
        return Verdict("imagem")
    if data.startswith(b"PK\x03\x04") or data.startswith(b"PK\x05\x06"):
        return _zip(data, max_bytes)
    if data.startswith(_OLE2):
        return Verdict("office", flags=("office_legado",))
    if _is_xml(data):
        try:
            parse_untrusted(data, max_bytes=max_bytes)
        except AppError as exc:
            return _refuse(exc.code, exc.message)
        return Verdict("xml")
    return _refuse("tipo_de_anexo_nao_aceito")
