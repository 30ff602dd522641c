"""Parsing, classification and validation of fiscal XML, including hostile input."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from app.errors import InvalidDocument
from app.fiscal.nfe import (
    DocumentKind,
    DocumentStatus,
    match_company,
    parse_bytes,
    require_company,
    validate,
)
from app.fiscal.xmlsec import make_parser
from tests.support.generator import embed_cancellation, make_cancel_event, make_cce_event, make_nfe

EMIT = "11222333000181"
DEST = "99888777000136"
NS = "{http://www.portalfiscal.inf.br/nfe}"


def _read(data: bytes):  # type: ignore[no-untyped-def]
    tree, doc = parse_bytes(data)
    return tree, validate(doc, tree)


def _codes(doc) -> set[str]:  # type: ignore[no-untyped-def]
    return {i.code for i in doc.errors + doc.warnings}


def _edit(data: bytes, path: str, text: str) -> bytes:
    root = etree.fromstring(data)
    for el in root.iter(NS + path.split("/")[-1]):
        if path.count("/") == 0 or etree.QName(el.getparent()).localname == path.split("/")[0]:
            el.text = text
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def test_nfe_proc_fields_and_status() -> None:
    data = make_nfe(EMIT, DEST, competencia="2026-05", numero=42, serie=3, items=5)
    _, doc = _read(data)
    f = doc.fields
    assert doc.kind is DocumentKind.NFE and doc.root == "nfeProc" and doc.version == "4.00"
    assert doc.status is DocumentStatus.AUTHORISED and doc.ok and not doc.warnings
    assert doc.chave and doc.chave[6:20] == EMIT and doc.chave[2:6] == "2605"
    assert (f["modelo"], f["serie"], f["numero"], f["tp_amb"]) == ("55", "3", "42", "1")
    assert doc.emit_doc == EMIT and doc.dest_doc == DEST and f["emit_uf"] == "SP"
    assert f["v_nf"] == Decimal("1000.00") and isinstance(f["v_icms"], Decimal)
    assert f["v_prod"] == f["v_nf"] and f["v_icms"] == Decimal("180.00")
    assert f["n_itens"] == 5 and f["cfops"] == frozenset({"5102"})
    assert f["c_stat"] == "100" and f["n_prot"] and f["dh_recbto"].startswith("2026-05")
    assert doc.competencia == "2026-05"


def test_bare_nfe_is_unprotocolled() -> None:
    _, doc = _read(make_nfe(EMIT, DEST, with_protocol=False))
    assert doc.root == "NFe" and doc.status is DocumentStatus.UNPROTOCOLLED and doc.ok


@pytest.mark.parametrize("with_protocol", [True, False])
def test_nfce_model_65(with_protocol: bool) -> None:
    _, doc = _read(make_nfe(EMIT, None, modelo=65, items=2, with_protocol=with_protocol))
    assert doc.kind is DocumentKind.NFCE and doc.ok
    assert doc.dest_doc is None and doc.fields["modelo"] == "65"


@pytest.mark.parametrize(
    ("cstat", "status"),
    [
        (100, DocumentStatus.AUTHORISED),
        (150, DocumentStatus.AUTHORISED),
        (302, DocumentStatus.DENIED),
        (110, DocumentStatus.DENIED),
        (101, DocumentStatus.CANCELLED),  # protNFe rewritten after cancellation (sped-nfe)
        (539, DocumentStatus.REJECTED),
    ],
)
def test_protocol_cstat_maps_to_status(cstat: int, status: DocumentStatus) -> None:
    _, doc = _read(make_nfe(EMIT, DEST, cstat=cstat))
    assert doc.status is status


def test_cancellation_event() -> None:
    chave = parse_bytes(make_nfe(EMIT, DEST))[1].chave
    assert chave
    _, doc = _read(make_cancel_event(chave))
    f = doc.fields
    assert doc.kind is DocumentKind.EVENTO_NFE and doc.ok
    assert doc.status is DocumentStatus.EVENT_REGISTERED
    assert (f["tp_evento"], f["c_stat"], f["n_seq_evento"]) == ("110111", "135", "1")
    assert doc.chave == chave and f["dh_evento"].startswith("2026-05") and f["n_prot_ref"]


def test_cce_event() -> None:
    chave = parse_bytes(make_nfe(EMIT, DEST))[1].chave
    assert chave
    _, doc = _read(make_cce_event(chave, seq=3))
    assert doc.ok and doc.fields["tp_evento"] == "110110" and doc.fields["n_seq_evento"] == "3"
    assert doc.fields["x_correcao"].startswith("Correcao")


@pytest.mark.parametrize("whole", [False, True])
def test_cancellation_embedded_inside_nfeproc(whole: bool) -> None:
    nfe = make_nfe(EMIT, DEST)
    chave = parse_bytes(nfe)[1].chave
    assert chave
    tree, doc = _read(embed_cancellation(nfe, make_cancel_event(chave), whole=whole))
    assert doc.status is DocumentStatus.CANCELLED and doc.ok
    assert "cancelamento_embutido" in _codes(doc)
    assert doc.fields["cancel_tp_evento"] == "110111"
    assert len(tree.getroot()) == 3  # the appended event is back after XSD validation


def test_root_without_namespace_reads_and_validates() -> None:
    plain = make_nfe(EMIT, DEST, namespace=False)
    assert b"portalfiscal" not in plain
    _, doc = _read(plain)
    _, ref = _read(make_nfe(EMIT, DEST))
    assert doc.fields == ref.fields and doc.ok
    assert "sem_namespace" in _codes(doc)


def test_utf8_bom_and_latin1_declaration() -> None:
    data = make_nfe(EMIT, DEST)
    assert _read(b"\xef\xbb\xbf" + data)[1].ok
    root = etree.fromstring(data)
    root.find(f"{NS}NFe/{NS}infNFe/{NS}emit/{NS}xNome").text = "CAFÉ AÇÚCAR LTDA"
    latin1 = etree.tostring(root, xml_declaration=True, encoding="ISO-8859-1")
    assert b"ISO-8859-1" in latin1[:60] and "É".encode("latin-1") in latin1
    _, doc = _read(latin1)
    assert doc.fields["emit_nome"] == "CAFÉ AÇÚCAR LTDA" and doc.ok


def test_reindented_document_is_a_warning() -> None:
    root = etree.fromstring(make_nfe(EMIT, DEST))
    etree.indent(root)
    _, doc = _read(etree.tostring(root))
    assert doc.ok and "conteudo_reindentado" in _codes(doc)


def test_layout_310_is_read_with_warning() -> None:
    data = make_nfe(EMIT, DEST).replace(b'versao="4.00"', b'versao="3.10"')
    _, doc = _read(data)
    assert doc.version == "3.10" and doc.ok and "layout_antigo" in _codes(doc)
    assert doc.fields["v_nf"] == Decimal("1000.00")


# --- bad input --------------------------------------------------------------------------------


def _code_of(data: bytes, **kw: int) -> str:
    with pytest.raises(InvalidDocument) as exc:
        parse_bytes(data, **kw)
    return exc.value.code


def test_malformed_xml() -> None:
    assert _code_of(make_nfe(EMIT, DEST)[:-40]) == "xml_malformado"


def test_xxe_external_entity_is_refused_and_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("SEGREDO-DO-ESCRITORIO")
    evil = (
        f'<?xml version="1.0"?><!DOCTYPE nfeProc [<!ENTITY x SYSTEM "file://{secret}">]>'
        "<nfeProc><NFe><infNFe><emit><xNome>&x;</xNome></emit></infNFe></NFe></nfeProc>"
    ).encode()
    with pytest.raises(InvalidDocument) as exc:
        parse_bytes(evil)
    assert exc.value.code == "xml_doctype_proibido"
    assert "SEGREDO" not in str(exc.value.to_dict())
    # Defence in depth: even the bare hardened parser (no DOCTYPE pre-check) never resolves it.
    root = etree.fromstring(evil, make_parser())
    assert b"SEGREDO" not in etree.tostring(root)


def test_billion_laughs_is_refused() -> None:
    lol = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(2, 10))
        + '<!ENTITY lol1 "&lol;&lol;">]><lolz>&lol9;</lolz>'
    ).encode()
    assert _code_of(lol) == "xml_doctype_proibido"


def test_oversized_file() -> None:
    assert _code_of(make_nfe(EMIT, DEST), max_bytes=4096) == "arquivo_muito_grande"


@pytest.mark.parametrize(
    "data",
    [b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", b"PK\x03\x04\x14\x00\x00\x00", b"", b"nota fiscal"],
)
def test_binary_or_text_named_xml(data: bytes) -> None:
    assert _code_of(data) == "nao_e_xml"


def test_non_fiscal_xml_is_classified_unknown() -> None:
    tree, doc = parse_bytes(b"<?xml version='1.0'?><pedido><item>1</item></pedido>")
    doc = validate(doc, tree)
    assert doc.kind is DocumentKind.DESCONHECIDO and not doc.ok
    with pytest.raises(InvalidDocument) as exc:
        doc.raise_for_errors()
    assert exc.value.code == "documento_nao_fiscal"


def test_wrong_chave_dv_is_rejected() -> None:
    data = make_nfe(EMIT, DEST)
    chave = parse_bytes(data)[1].chave
    assert chave
    bad = chave[:43] + str((int(chave[43]) + 1) % 10)
    _, doc = _read(data.replace(chave.encode(), bad.encode()))
    assert "chave_dv_invalido" in {e.code for e in doc.errors}


@pytest.mark.parametrize(
    ("path", "value", "detail"),
    [
        ("emit/CNPJ", "11444777000161", "emitente"),
        ("ide/dhEmi", "2026-04-10T10:00:00-03:00", "emissão"),
        ("ide/nNF", "77", "número"),
        ("infProt/chNFe", "35260511222333000181550010000000021234567898", "protocolo"),
    ],
)
def test_content_inconsistent_with_chave(path: str, value: str, detail: str) -> None:
    _, doc = _read(_edit(make_nfe(EMIT, DEST), path, value))
    errors = [e for e in doc.errors if e.code == "chave_inconsistente"]
    assert errors and any(detail in e.detail for e in errors)


def test_id_without_nfe_prefix_is_inconsistent() -> None:
    data = make_nfe(EMIT, DEST)
    chave = parse_bytes(data)[1].chave
    assert chave
    _, doc = _read(data.replace(f'Id="NFe{chave}"'.encode(), f'Id="{chave}"'.encode()))
    assert doc.chave == chave
    assert any(e.code == "chave_inconsistente" and "Id" in e.detail for e in doc.errors)


def test_schema_invalid_document() -> None:
    root = etree.fromstring(make_nfe(EMIT, DEST))
    tot = root.find(f".//{NS}ICMSTot")
    tot.remove(tot.find(f"{NS}vNF"))
    _, doc = _read(etree.tostring(root))
    xsd = [e for e in doc.errors if e.code == "xsd_invalido"]
    assert xsd and "vNF" in xsd[0].detail


def test_match_company_direction() -> None:
    _, doc = _read(make_nfe(EMIT, DEST))
    assert match_company(doc, "11.222.333/0001-81") == "saida"
    assert match_company(doc, DEST) == "entrada"
    assert match_company(doc, "11444777000161") is None
    with pytest.raises(InvalidDocument) as exc:
        require_company(doc, "11444777000161")
    assert exc.value.code == "documento_de_outra_empresa"


def test_match_company_alphanumeric_and_cpf_recipient() -> None:
    _, doc = _read(make_nfe("12ABC34501DE35", "52998224725", modelo=65))
    assert doc.ok
    assert match_company(doc, "12.abc.345/01de-35") == "saida"
    assert match_company(doc, "529.982.247-25") == "entrada"
