"""Edge cases of the fast paths in parsing, extraction, validation and row mapping."""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from app.documents.classify import Classified, Job, classify
from app.documents.rows import OFFICE_TZ, competencia_of
from app.errors import InvalidDocument
from app.files.reader import ContentRef
from app.fiscal.chave import chave_dv, parse_chave
from app.fiscal.cnpj import mod11_dv
from app.fiscal.nfe import DocumentStatus, parse_bytes, validate
from app.fiscal.nfe.validation import CHAVE_CHECKS, _check_chave
from app.fiscal.nfe.xpaths import SEP
from app.fiscal.xmlsec import make_parser, parse_untrusted
from tests.support.generator import embed_cancellation, make_cancel_event, make_nfe

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


def test_classified_rows_are_plain_json() -> None:
    # Rows leave the workers as JSON-ready values: no Decimal/datetime reaches the pickle or
    # needs converting in the flow (json.dumps without a default would raise on them).
    now = datetime(2026, 3, 1, 10, tzinfo=UTC)
    nfe = make_nfe(EMIT, DEST, "2026-03", value=Decimal("10.50"))
    chave = parse_bytes(nfe)[1].chave
    cancel = make_cancel_event(chave)
    outs = [
        classify(Job(i, i, data), cnpj=EMIT, empresa_id=1, now=now)
        for i, data in enumerate((nfe, cancel, embed_cancellation(nfe, cancel)))
    ]
    assert [o.status for o in outs] == ["documento", "evento", "documento"]
    rows = [outs[0].values, outs[1].values, outs[2].values, outs[2].embedded_event]
    assert json.loads(json.dumps(rows)) == rows
    doc, event = rows[0], rows[1]
    assert doc["total"] == "10.50" and doc["issued_at"].startswith("2026-03-")
    assert doc["validation"]["validado_em"] == "2026-03-01T10:00:00+00:00"
    assert datetime.fromisoformat(event["event_at"]).tzinfo is not None
    assert rows[3]["tp_evento"] == "110111" and rows[2]["status"] == "cancelada"


def test_competencia_matches_strftime() -> None:
    for year in (1, 999, 2026):
        issued = datetime(year, 6, 15, 12, tzinfo=timezone(timedelta(hours=-3)))
        assert competencia_of(issued) == issued.astimezone(OFFICE_TZ).strftime("%Y-%m")
    assert competencia_of(None) is None


_CONTROL = [b for b in range(32) if b not in b"\t\n\r"]
_PLACES = [
    b"<a>x%sy</a>",
    b'<a b="x%sy"/>',
    b"<a><!-- x%sy --></a>",
    b"<a><![CDATA[x%sy]]></a>",
    b'<a b="1"%s c="2"/>',
    b"<a><?pi x%sy?></a>",
    b'<?xml version="1.0"?>%s<a/>',
    b"<a/>%s",
    b'<!DOCTYPE a [<!ENTITY e "x">]><a>%s</a>',
]


@pytest.mark.parametrize("place", _PLACES)
def test_a_control_byte_anywhere_in_the_first_4096_bytes_is_binary(place: bytes) -> None:
    # The sniff runs only when the file is refused anyway: this proves libxml2 refuses every
    # control byte wherever it is in the encodings accepted (ASCII-compatible; UTF-16 with a
    # BOM), so no file with one is ever accepted and the code is stable.
    for byte in _CONTROL:
        with pytest.raises(InvalidDocument) as exc:
            parse_bytes(place.replace(b"%s", bytes([byte])))
        assert exc.value.code == "nao_e_xml", (place, byte)


def test_blank_prefix_longer_than_the_quick_look_still_finds_the_root() -> None:
    body = make_nfe(EMIT, DEST, items=3).split(b"?>", 1)[1]  # no declaration: blanks may lead
    assert parse_bytes(b" " * 200 + body)[1].fields["n_itens"] == 3
    with pytest.raises(InvalidDocument) as exc:
        parse_bytes(b" " * 200 + b"nota fiscal")
    assert exc.value.code == "nao_e_xml"


def _table_findings(doc) -> list[str]:  # type: ignore[no-untyped-def]
    """CHAVE_CHECKS applied one by one (what _check_chave answered before its fast path)."""
    chave = parse_chave(doc.fields["chave"])
    return [
        f"{label}: documento {value!r}"
        for label, needs, doc_value, chave_value in CHAVE_CHECKS
        if any(doc.fields.get(n) for n in needs.split("|"))
        and (value := doc_value(doc.fields)) != chave_value(chave)
    ]


@pytest.mark.parametrize(
    ("field", "value", "flagged"),
    [
        (None, None, False),
        ("cuf", "41", True),
        ("dh_emi", "2026-04-10T10:00:00-03:00", True),
        ("emit_cnpj", "11222333000262", True),
        ("modelo", "65", True),
        ("serie", "2", True),
        ("numero", "77", True),
        ("tp_emis", "9", True),
        ("prot_chave", "3" * 44, True),
        ("modelo", "5", True),  # one part short …
        ("serie", "5001", True),  # … and the next one long: still two findings
        ("serie", "", False),  # empty: the table skips the check
        ("tp_emis", None, False),  # absent: skipped too
        ("emit_cnpj", None, False),
    ],
)
def test_chave_fast_path_finds_what_the_table_finds(
    field: str | None, value: str | None, flagged: bool
) -> None:
    _, doc = parse_bytes(make_nfe(EMIT, DEST, "2026-03"))
    fields = dict(doc.fields)
    if field == "serie" and value == "5001":
        fields["modelo"] = "5"  # "5" + "5001" reads as the chave's "55" + "001" when joined
    if field is not None:
        if value is None:
            fields.pop(field, None)
        else:
            fields[field] = value
    doc = replace(doc, fields=fields)
    found = [i.detail for i in _check_chave(doc) if not i.detail.startswith("Id ")]
    assert found == _table_findings(doc)
    assert bool(found) is flagged


def test_pool_messages_survive_pickling_whole() -> None:
    # Job, ContentRef and Classified pickle as tuples of their fields (speed); nothing is lost.
    ref = ContentRef("k", "ab" * 32, 10, "/tmp/lote.zip", "a.xml", 120, 7, 8)
    out = Classified(3, "documento", None, None, [{"code": "x", "message": "y"}], "1" * 44)
    out.values, out.embedded_event = {"chave": "1" * 44, "total": "1.00"}, {"tp_evento": "110111"}
    for value in (
        Job(1, 2, ref),
        Job(4, None, b"<a/>"),
        out,
        Classified(5).quarantine("nao_e_xml"),
    ):
        assert pickle.loads(pickle.dumps(value, pickle.HIGHEST_PROTOCOL)) == value


def _hidden_doctype(path: str, encoding: str) -> str:
    return (
        f'<?xml version="1.0" encoding="{encoding}"?><!DOCTYPE a [<!ENTITY % pe SYSTEM '
        f'"file://{path}"> %pe;]><a>&leak;</a>'
    )


@pytest.mark.parametrize(
    "encode",
    [
        lambda text: text.encode("utf-16-le"),  # no BOM: libxml2 detects it, a byte search can't
        lambda text: text.encode("utf-16-be"),
        lambda text: text.replace("UTF-16", "UTF-32").encode("utf-32-le"),
        lambda text: b"\xff\xfe\x00\x00" + text.replace("UTF-16", "UTF-32").encode("utf-32-le"),
        lambda text: text.replace("UTF-16", "UTF-7").replace("<!", "<+ACE-").encode(),
        lambda text: text.replace("UTF-16", "ISO-2022-JP").replace("<!", "<!\x1b(B").encode(),
        # padding inside the declaration must not push the encoding out of sight
        lambda text: (
            text.replace("UTF-16", "UTF-7")
            .replace("<!", "<+ACE-")
            .replace('version="1.0"', 'version="1.0"' + " " * 600)
            .encode()
        ),
    ],
)
def test_encodings_that_hide_a_doctype_are_refused_before_parsing(
    encode: Callable[[str], bytes], tmp_path: Path
) -> None:
    secret = tmp_path / "segredo.dtd"
    secret.write_text('<!ENTITY leak "SEGREDO">')
    with pytest.raises(InvalidDocument) as exc:
        parse_bytes(encode(_hidden_doctype(str(secret), "UTF-16")))
    assert exc.value.code == "nao_e_xml"


def test_the_parser_never_loads_an_external_entity(tmp_path: Path) -> None:
    # Defence in depth behind the DOCTYPE refusal: even handed a DOCTYPE directly, the parser
    # resolves no external parameter entity (libxml2 would open the file otherwise).
    # The file is not a valid DTD: had libxml2 read it, the parse would fail inside it.
    secret = tmp_path / "segredo.dtd"
    secret.write_text("SEGREDO <!ENTITY")
    data = f'<!DOCTYPE a [<!ENTITY % pe SYSTEM "file://{secret}"> %pe;]><a>x</a>'.encode()
    assert etree.fromstring(data, make_parser()).text == "x"


@pytest.mark.parametrize(
    "data",
    [
        '<?xml version="1.0" encoding="ISO-8859-1"?><a>ção</a>'.encode("latin-1"),
        '<?xml version="1.0" encoding="windows-1252"?><a>ção</a>'.encode("cp1252"),
        "\ufeff<?xml version='1.0' encoding='UTF-8'?><a>ção</a>".encode(),
        "<?xml version='1.0' encoding='UTF-16'?><a>ção</a>".encode("utf-16"),  # with its BOM
    ],
)
def test_accepted_encodings_still_parse(data: bytes) -> None:
    assert parse_untrusted(data).getroot().text == "ção"


def test_an_overlong_xml_declaration_is_refused() -> None:
    with pytest.raises(InvalidDocument) as exc:
        parse_untrusted(b'<?xml version="1.0"' + b" " * 2000 + b'encoding="UTF-7"?><a/>')
    assert exc.value.code == "xml_malformado"
