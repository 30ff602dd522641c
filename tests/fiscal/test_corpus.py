"""Public sample documents in ../shared/corpus/nfe (third-party files, read in place).

When the corpus folder is absent this module defines no test at all (nothing is skipped).
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from app.errors import AppError
from app.fiscal.cnpj import is_valid_cnpj
from app.fiscal.nfe import DocumentKind, DocumentStatus, ParsedDocument, parse_bytes, validate

CORPUS = Path(__file__).resolve().parents[2].parent / "shared/corpus/nfe"
NS = "{http://www.portalfiscal.inf.br/nfe}"
CHAVE_IN_NAME = re.compile(r"(?<![0-9])([0-9]{44})(?![0-9])")

# Expectations taken from SOURCES.md (relative path → kind, codes that must be reported).
EXPECTED: dict[str, tuple[DocumentKind, set[str]]] = {
    "sped-nfe/tests/fixtures/xml/2017protocoled.xml": (DocumentKind.NFE, {"layout_antigo"}),
    "sped-nfe/tests/fixtures/xml/nfe_layout4_com_prot.xml": (DocumentKind.NFE, set()),
    "sped-nfe/tests/fixtures/xml/nfce.xml": (DocumentKind.NFCE, set()),
    "sped-nfe/tests/fixtures/xml/nfce_com_qrcode.xml": (DocumentKind.NFCE, {"chave_dv_invalido"}),
    "sped-nfe/tests/fixtures/xml/nfe_4.0.xml": (DocumentKind.NFE, {"chave_dv_invalido"}),
    "sped-nfe/tests/fixtures/xml/req_evento_cancela.xml": (
        DocumentKind.DESCONHECIDO,
        {"documento_nao_fiscal"},
    ),
    "BrazilFiscalReport/tests/fixtures/dacte/dacte_test_1.xml": (DocumentKind.CTE, set()),
    "BrazilFiscalReport/tests/fixtures/dacce/xml_cce_1.xml": (DocumentKind.EVENTO_NFE, set()),
    "BrazilFiscalReport/tests/fixtures/danfse/nfse_test_prod.xml": (DocumentKind.NFSE, set()),
    "nfelib/nfelib/nfe_evento_cce/samples/v1_0/"
    "35180803102452000172550010000476051695511860-01-cce.xml": (DocumentKind.EVENTO_NFE, set()),
}


def _read(path: Path) -> tuple[etree._ElementTree, ParsedDocument]:
    tree, doc = parse_bytes(path.read_bytes())
    return tree, validate(doc, tree)


def _authorised_valid_40(doc: ParsedDocument) -> bool:
    return (
        doc.root == "nfeProc"
        and doc.version == "4.00"
        and doc.status is DocumentStatus.AUTHORISED
        and not any(e.code == "xsd_invalido" for e in doc.errors)
    )


if CORPUS.is_dir():
    FILES = sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.suffix.lower() == ".xml")

    @pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(CORPUS)))
    def test_every_file_is_classified_without_crashing(path: Path) -> None:
        try:
            _, doc = _read(path)
        except AppError as exc:  # unsafe/malformed XML: a stable code, never a crash
            assert exc.code
            return
        assert isinstance(doc.kind, DocumentKind)
        assert all(i.code and i.message for i in doc.errors + doc.warnings)

    @pytest.mark.parametrize("rel", sorted(EXPECTED), ids=str)
    def test_known_files(rel: str) -> None:
        path = CORPUS / rel
        assert path.is_file(), rel
        kind, codes = EXPECTED[rel]
        _, doc = _read(path)
        assert doc.kind is kind
        assert codes <= {i.code for i in doc.errors + doc.warnings}

    def test_authorised_schema_valid_nfe_match_their_content() -> None:
        checked = 0
        for path in FILES:
            tree, doc = _read(path)
            if not _authorised_valid_40(doc):
                continue
            root = tree.getroot()
            if match := CHAVE_IN_NAME.search(path.name):
                assert doc.chave == match.group(1), path.name
            # Cross-check against plain ElementPath reads, independent of our XPath tables.
            emit = root.findtext(f"{NS}NFe/{NS}infNFe/{NS}emit/{NS}CNPJ")
            v_nf = root.findtext(f"{NS}NFe/{NS}infNFe/{NS}total/{NS}ICMSTot/{NS}vNF")
            assert emit and is_valid_cnpj(emit) and doc.emit_doc == emit, path.name
            assert v_nf and doc.fields["v_nf"] == Decimal(v_nf), path.name
            # SOURCES.md: every such file has a valid DV; #6 was edited (chave tpEmis 2 vs 1).
            assert "chave_dv_invalido" not in {e.code for e in doc.errors}, path.name
            checked += 1
        assert checked >= 5  # SOURCES.md lists six such files
