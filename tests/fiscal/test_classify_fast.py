"""Edge cases of the fast paths in parsing, extraction, validation and row mapping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from lxml import etree

from app.errors import InvalidDocument
from app.fiscal.chave import chave_dv
from app.fiscal.cnpj import mod11_dv
from app.fiscal.generator import embed_cancellation, make_cancel_event, make_nfe
from app.fiscal.nfe import DocumentStatus, parse_bytes, validate
from app.fiscal.nfe.xpaths import SEP
from app.services.documents_bulk import json_ready
from app.services.documents_rows import OFFICE_TZ, competencia_of

EMIT = "11222333000181"
DEST = "99888777000136"
NS = "{http://www.portalfiscal.inf.br/nfe}"


def _codes(doc) -> set[str]:  # type: ignore[no-untyped-def]
    return {i.code for i in doc.errors + doc.warnings}


def test_embedded_cancellation_without_protocol_is_still_found() -> None:
    """nfeProc with NFe + retEvento (two children, no protNFe): the event is still read."""
    nfe = make_nfe(EMIT, DEST)
    chave = parse_bytes(nfe)[1].chave
    assert chave
    root = etree.fromstring(embed_cancellation(nfe, make_cancel_event(chave)))
    root.remove(root.find(f"{NS}protNFe"))
    assert len(root) == 2
    _, doc = parse_bytes(etree.tostring(root))
    assert doc.status is DocumentStatus.CANCELLED
    assert doc.fields["cancel_tp_evento"] == "110111"


def test_item_count_without_items_is_zero() -> None:
    root = etree.fromstring(make_nfe(EMIT, DEST, items=3))
    inf = root.find(f"{NS}NFe/{NS}infNFe")
    for det in inf.findall(f"{NS}det"):
        inf.remove(det)
    _, doc = parse_bytes(etree.tostring(root))
    assert doc.fields["n_itens"] == 0 and doc.fields["cfops"] == frozenset()


def test_value_containing_the_separator_is_read_field_by_field() -> None:
    root = etree.fromstring(make_nfe(EMIT, DEST, items=2))
    root.find(f"{NS}NFe/{NS}infNFe/{NS}emit/{NS}xNome").text = f"A{SEP}B"
    _, doc = parse_bytes(etree.tostring(root))
    assert doc.fields["emit_nome"] == f"A{SEP}B" and doc.fields["n_itens"] == 2


@pytest.mark.parametrize(("offset", "binary"), [(4095, True), (4096, False)])
def test_binary_sniff_looks_at_the_first_4096_bytes(offset: int, binary: bool) -> None:
    data = b"<a>" + b"x" * (offset - 3) + b"\x01" + b"</a>"
    with pytest.raises(InvalidDocument) as exc:
        parse_bytes(data)
    assert exc.value.code == ("nao_e_xml" if binary else "xml_malformado")


def test_exclamation_marks_without_declarations_parse() -> None:
    data = make_nfe(EMIT, DEST).replace(b"<xNome>", b"<xNome>Oi! ", 1)
    assert parse_bytes(data)[1].fields["emit_nome"].startswith("Oi! ")
    declared = data.replace(b"<nfeProc", b"<!-- ! --><!DOCTYPE nfeProc><nfeProc", 1)
    with pytest.raises(InvalidDocument) as exc:
        parse_bytes(declared)
    assert exc.value.code == "xml_doctype_proibido"


def test_reindented_without_signature_is_not_flagged() -> None:
    root = etree.fromstring(make_nfe(EMIT, DEST))
    nfe = root.find(f"{NS}NFe")
    nfe.remove(nfe.find("{http://www.w3.org/2000/09/xmldsig#}Signature"))
    etree.indent(root)
    tree, doc = parse_bytes(etree.tostring(root))
    assert "conteudo_reindentado" not in _codes(validate(doc, tree))


def test_mod11_dv_generic_and_ascii_paths_agree() -> None:
    weights = (2, 3, 4)
    for text in ("1A9", "É1Z"):  # ASCII is read as bytes, anything else by code point
        total = sum((ord(c) - 48) * w for c, w in zip(text, weights, strict=True))
        assert mod11_dv(text, weights) == (0 if total % 11 < 2 else 11 - total % 11)
    with pytest.raises(ValueError):
        mod11_dv("12", weights)
    assert chave_dv("5206043300991100250655012000000780026730161") == 5  # MOC worked example


def test_json_ready_converts_subclasses_and_keeps_plain_values() -> None:
    class Moment(datetime):
        pass

    moment = Moment(2026, 3, 1, 10, tzinfo=UTC)
    row = {"a": moment, "b": Decimal("1.50"), "c": "x", "d": None, "e": frozenset({"2", "1"})}
    assert json_ready(row) == {
        "a": "2026-03-01T10:00:00+00:00",
        "b": "1.50",
        "c": "x",
        "d": None,
        "e": ["1", "2"],
    }


def test_competencia_matches_strftime() -> None:
    for year in (1, 999, 2026):
        issued = datetime(year, 6, 15, 12, tzinfo=timezone(timedelta(hours=-3)))
        assert competencia_of(issued) == issued.astimezone(OFFICE_TZ).strftime("%Y-%m")
    assert competencia_of(None) is None
