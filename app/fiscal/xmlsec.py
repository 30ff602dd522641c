"""The one hardened lxml parser for untrusted XML (uploads, e-mail attachments, APIs).

Every document from outside enters through :func:`parse_untrusted`. The parser never resolves
entities, never loads a DTD, never touches the network and keeps libxml2's size limits
(``huge_tree=False``); any DOCTYPE is refused outright, checked on the raw bytes *and* on the
parsed tree, because fiscal layouts never carry one (XXE, billion laughs). lxml < 6.1 resolved
external entities by default (CVE-2026-41066): the project pins lxml ≥ 6.1 and sets the flags
explicitly anyway.

Failures raise :class:`~app.errors.InvalidDocument` with a stable code:

==========================  ==================================================================
``arquivo_muito_grande``    more than ``max_bytes`` (checked before parsing)
``nao_e_xml``               empty, binary or otherwise not XML text (e.g. a PDF named ``.xml``),
                            or an encoding other than UTF-8/ASCII/Latin-1/Windows-1252/UTF-16+BOM
``xml_doctype_proibido``    a DOCTYPE / ENTITY declaration (DTD, XXE, entity expansion)
``xml_malformado``          not well-formed XML
==========================  ==================================================================
"""

from __future__ import annotations

import re
import threading

from lxml import etree

from app.errors import InvalidDocument

__all__ = ["DEFAULT_MAX_BYTES", "make_parser", "parse_untrusted"]

# A 1,000-item NF-e is ~1 MiB; SEFAZ caps a batch message at 500 KiB (MOC 7.0, 3.3.1), so
# 5 MiB leaves room for nfeProc + events while refusing absurd uploads.
DEFAULT_MAX_BYTES = 5 * 1024 * 1024

_BOMS: tuple[bytes, ...] = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
_DOCTYPE_RE = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)
# Control bytes that never appear in XML 1.0 text (allowed: TAB, LF, CR). ``_binary`` deletes
# every other byte with ``bytes.translate`` (a table lookup per byte, ~7x faster than a regex
# character class): whatever is left is a control byte.
_CONTROL_BYTES = bytes(b for b in range(32) if b not in b"\t\n\r")
_NOT_CONTROL = bytes(b for b in range(256) if b not in _CONTROL_BYTES)
_SNIFF_BYTES = 4096
_UTF32_BOMS: tuple[bytes, ...] = (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")
# Declared encodings accepted: those that keep ASCII's bytes, so the raw-byte DOCTYPE check sees
# ``<!DOCTYPE`` as written (UTF-16 is accepted with a BOM only: decoded before the check). In
# UTF-16/32 without a BOM, UTF-7, ISO-2022-*, EBCDIC… a DOCTYPE hides from a byte search.
_ENCODINGS = frozenset(
    {"utf-8", "utf8", "us-ascii", "ascii", "iso-8859-1", "iso8859-1", "iso_8859-1", "latin1",
     "latin-1", "iso-8859-15", "windows-1252", "cp1252", "utf-16", "utf-16le", "utf-16be"}
)  # fmt: skip
_ENCODING_RE = re.compile(rb"encoding\s*=\s*[\"']([^\"']*)[\"']")
_DECLARATION_MAX = 1024
_local = threading.local()


class _NoLoads(etree.Resolver):
    """Every external load (DTD, parameter entity, XInclude) resolves to nothing.

    Defence in depth: a DOCTYPE never reaches the parser (refused on the raw bytes, and the
    encodings that could hide one are refused), but libxml2 would otherwise open local files
    for external parameter entities even with ``load_dtd=False`` and ``no_network=True``.
    """

    # lxml calls resolve(url, public_id, context); its stubs omit the context argument.
    def resolve(self, system_url: str, public_id: str, context: object) -> object:  # type: ignore[override]
        return self.resolve_string("", context)  # type: ignore[call-arg]


def make_parser() -> etree.XMLParser:
    """A new hardened parser (lxml parsers must not be shared between threads)."""
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_blank_text=False,
        remove_pis=False,
        collect_ids=False,
    )
    parser.resolvers.add(_NoLoads())
    return parser


def _thread_parser() -> etree.XMLParser:
    parser: etree.XMLParser | None = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = make_parser()
    return parser


def _reject(code: str, message: str, **details: object) -> InvalidDocument:
    return InvalidDocument(message, code=code, **details)


def _sniff(data: bytes) -> bytes:
    """Return the bytes to scan for DOCTYPE; raise ``nao_e_xml`` when it does not start as XML."""
    if data.startswith(_UTF32_BOMS):  # before UTF-16: FF FE starts both BOMs
        raise _unsupported("UTF-32")
    if data.startswith(_BOMS[1:]):  # UTF-16: scan the decoded text re-encoded as UTF-8
        try:
            return data.decode("utf-16").encode("utf-8")
        except UnicodeDecodeError as exc:
            raise _reject("nao_e_xml", "O arquivo não é um XML válido.") from exc
    body = data[3:] if data.startswith(_BOMS[0]) else data
    # The first non-blank byte (a short prefix first: lstrip() of the whole body copies it).
    head = body[:64].lstrip()[:1] or body.lstrip()[:1]
    if head != b"<":
        raise _not_xml_text()
    if b"\x00" in body[:4]:  # UTF-16/32 without a BOM (libxml2 would detect and read it)
        raise _unsupported("UTF-16/UTF-32 sem BOM")
    if body.startswith(b"<?xml"):
        end = body.find(b"?>", 0, _DECLARATION_MAX)
        if end < 0:  # a real declaration is ~50 bytes; padding must not hide its encoding
            raise _reject("xml_malformado", "XML malformado: declaração <?xml ...?> inválida.")
        if declared := _ENCODING_RE.search(body, 0, end):
            name = declared.group(1).decode("ascii", "replace").strip()
            if name.lower() not in _ENCODINGS:
                raise _unsupported(name)
    return body


def _unsupported(name: str) -> InvalidDocument:
    return _reject(
        "nao_e_xml",
        f"Codificação de caracteres não aceita ({name[:40]}): envie o XML em UTF-8 ou ISO-8859-1.",
    )


def _not_xml_text() -> InvalidDocument:
    return _reject("nao_e_xml", "O arquivo não é um XML (conteúdo binário ou texto comum).")


def _binary(scan: bytes) -> bool:
    """Control bytes (never in XML 1.0 text) among the first 4 KiB: binary content.

    Only asked once the file is refused anyway (a DOCTYPE, or libxml2 found it not
    well-formed — which it always does for these bytes), so a valid document never pays the
    scan; the answer is ``nao_e_xml`` instead of the other code, as a binary file deserves.
    """
    return bool(scan[:_SNIFF_BYTES].translate(None, _NOT_CONTROL))


def parse_untrusted(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> etree._ElementTree:
    """Parse untrusted XML bytes safely; raise InvalidDocument with a stable code."""
    if len(data) > max_bytes:
        raise _reject(
            "arquivo_muito_grande",
            f"Arquivo maior que o limite de {max_bytes // 1024} KiB.",
            size=len(data),
            max_bytes=max_bytes,
        )
    if not data or data.isspace():  # = not data.strip(), without copying the document
        raise _reject("nao_e_xml", "O arquivo está vazio.")
    scan = _sniff(data)
    # Every match of the regex starts with "<!", and "!" is rare in fiscal XML: the one-byte test
    # (memchr; ~15x faster than searching "<!" among the many "<") and then the substring test
    # spare the regex scan for the common document without comments, CDATA or declarations.
    if b"!" in scan and b"<!" in scan and _DOCTYPE_RE.search(scan):
        if _binary(scan):
            raise _not_xml_text()
        raise _reject("xml_doctype_proibido", "XML com DOCTYPE/entidades não é aceito.")
    try:
        root = etree.fromstring(data, _thread_parser())
    except etree.XMLSyntaxError as exc:
        if _binary(scan):
            raise _not_xml_text() from exc
        raise _reject("xml_malformado", f"XML malformado: {exc.msg}", line=exc.lineno) from exc
    except (ValueError, LookupError) as exc:  # e.g. unknown encoding declaration
        if _binary(scan):
            raise _not_xml_text() from exc
        raise _reject("xml_malformado", f"XML malformado: {exc}") from exc
    tree = root.getroottree()
    docinfo = tree.docinfo
    if getattr(docinfo, "doctype", "") or getattr(docinfo, "internalDTD", None) is not None:
        raise _reject("xml_doctype_proibido", "XML com DOCTYPE/entidades não é aceito.")
    return tree
