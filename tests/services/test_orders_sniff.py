"""Attachments are judged by their bytes, never by their names (app.orders.sniff)."""

from __future__ import annotations

import io
import zipfile
import zlib

from app.orders.sniff import sniff

MAX = 1024 * 1024
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
NFE = b'<?xml version="1.0" encoding="UTF-8"?><nfeProc xmlns="http://www.portalfiscal.inf.br/nfe"/>'


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _code(data: bytes) -> str | None:
    return sniff(data, max_bytes=MAX).code


def test_accepted_kinds() -> None:
    assert sniff(PDF, max_bytes=MAX).kind == "pdf"
    assert sniff(PNG, max_bytes=MAX).kind == "imagem"
    assert sniff(b"\xff\xd8\xff\xe0" + b"0" * 20, max_bytes=MAX).kind == "imagem"
    assert sniff(NFE, max_bytes=MAX).kind == "xml"
    assert sniff(_zip({"a.xml": NFE}), max_bytes=MAX).kind == "zip"
    docx = _zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w/>"})
    assert sniff(docx, max_bytes=MAX).kind == "office"
    assert sniff(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 50, max_bytes=MAX).kind == "office"


def test_executables_are_quarantined_whatever_the_name() -> None:
    assert _code(b"MZ\x90\x00" + b"\x00" * 60 + b"%PDF-1.4") == "executavel_disfarcado"
    assert _code(b"\x7fELF\x02\x01\x01") == "executavel_disfarcado"
    assert _code(b"#!/bin/sh\nrm -rf /\n") == "executavel_disfarcado"
    assert _code(_zip({"nota.pdf": b"MZ\x90\x00rest"})) == "executavel_disfarcado"


def test_pdf_with_javascript_or_embedded_files_is_quarantined() -> None:
    js = PDF.replace(b"/Type /Catalog", b"/Type /Catalog /OpenAction << /S /JavaScript /JS (x) >>")
    assert _code(js) == "pdf_com_javascript"
    hidden = PDF.replace(b"/Type /Catalog", b"/Type /Catalog /OpenAction << /S /J#61vaScript >>")
    assert _code(hidden) == "pdf_com_javascript"  # name escapes decoded (ISO 32000-1 §7.3.5)
    packed = zlib.compress(b"<< /S /Launch /F (cmd.exe) >>")
    in_stream = PDF + b"\n2 0 obj << /Filter /FlateDecode >> stream\n" + packed + b"\nendstream"
    assert _code(in_stream) == "pdf_com_javascript"  # inside a compressed stream
    emb = PDF.replace(b"/Type /Catalog", b"/Type /Catalog /Names << /EmbeddedFiles 2 0 R >>")
    assert _code(emb) == "pdf_com_arquivo_embutido"


def test_encrypted_pdf_is_accepted_and_flagged() -> None:
    enc = PDF.replace(b"/Root 1 0 R", b"/Root 1 0 R /Encrypt 3 0 R")
    verdict = sniff(enc, max_bytes=MAX)
    assert verdict.accepted and verdict.flags == ("pdf_criptografado",)


def test_bad_xml_zip_and_sizes() -> None:
    xxe = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>'
    assert _code(xxe) == "xml_doctype_proibido"
    assert _code(b"<nfeProc><unclosed></nfeProc>") == "xml_malformado"
    assert _code(_zip({"../../etc/passwd": b"x"})) == "zip_caminho_invalido"
    assert _code(_zip({"big.xml": b"<a>" + b"0" * 5_000_000 + b"</a>"})) in {
        "zip_bomba",
        "arquivo_muito_grande",
    }
    assert _code(b"PK\x03\x04garbage") == "zip_invalido"
    assert _code(b"") == "arquivo_vazio"
    assert sniff(PDF, max_bytes=10).code == "arquivo_muito_grande"
    assert _code(b"just some text") == "tipo_de_anexo_nao_aceito"
    assert sniff(NFE, max_bytes=MAX).message is None
    assert sniff(b"MZ", max_bytes=MAX).message
