"""Old layouts (3.10 and older) are indexed the same way for NF-e, NFC-e and CT-e.

nfelib ships only the 4.00 XSDs (PL_010f), so a document whose wrapper, signed part or protocol
declares an older layout (MOC NF-e 6.0 / leiaute 3.10, NT 2015.002 for NFC-e 3.10; MOC CT-e 3.00)
is not validated against 4.00: it gets the ``layout_antigo`` warning and structural checks (the
fields every layout since 2.00 carries: chave parts, emitter, emission date).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.documents.classify import Job, classify
from app.fiscal.nfe import DocumentKind, parse_bytes, validate
from tests.support.generator import make_nfe

CORPUS = Path(__file__).resolve().parents[2].parent / "shared/corpus/nfe"
EMIT = "11222333000181"
ROOT_400 = b'nfeProc xmlns="http://www.portalfiscal.inf.br/nfe" versao="4.00"'
ROOT_310 = b'nfeProc xmlns="http://www.portalfiscal.inf.br/nfe" versao="3.10"'


def _nfce_310(*, inner: bool) -> bytes:
    """A production NFC-e whose nfeProc says 3.10 (and its NFe/protNFe too when ``inner``)."""
    data = make_nfe(EMIT, None, modelo=65).replace(ROOT_400, ROOT_310)
    return data.replace(b'versao="4.00"', b'versao="3.10"') if inner else data


def _codes(data: bytes) -> tuple[DocumentKind, list[str], list[str]]:
    tree, doc = parse_bytes(data)
    doc = validate(doc, tree)
    return doc.kind, [e.code for e in doc.errors], [w.code for w in doc.warnings]


@pytest.mark.parametrize("inner", [True, False])
def test_nfce_310_is_an_old_layout_not_xsd_invalid(inner: bool) -> None:
    kind, errors, warnings = _codes(_nfce_310(inner=inner))
    assert kind is DocumentKind.NFCE and errors == [] and "layout_antigo" in warnings


def test_nfce_310_is_indexed_with_layout_antigo() -> None:
    out = classify(
        Job(1, None, _nfce_310(inner=False)), cnpj=EMIT, empresa_id=1, now=datetime.now(UTC)
    )
    assert out.status == "documento", out.error_message
    assert "layout_antigo" in {w["code"] for w in out.warnings}
    assert out.values is not None and out.values["kind"] == "nfce"


def test_old_layout_without_its_essential_fields_is_refused() -> None:
    data = _nfce_310(inner=True)
    start = data.index(b"<nNF>")
    end = data.index(b"</nNF>") + len(b"</nNF>")
    kind, errors, warnings = _codes(data[:start] + data[end:])
    assert "estrutura_invalida" in errors and "layout_antigo" in warnings


def test_current_layout_still_validates_against_its_xsd() -> None:
    data = make_nfe(EMIT, None, modelo=65).replace(b"<nNF>1</nNF>", b"<nNF>x</nNF>")
    assert "xsd_invalido" in _codes(data)[1]


if CORPUS.is_dir():

    def test_real_nfe_310_sample_is_an_old_layout() -> None:
        path = CORPUS / "sped-nfe/tests/fixtures/xml/2017protocoled.xml"
        kind, errors, warnings = _codes(path.read_bytes())
        assert kind is DocumentKind.NFE and errors == [] and "layout_antigo" in warnings

    def test_real_cte_300_sample_is_an_old_layout() -> None:
        path = (
            CORPUS
            / "nfelib/nfelib/cte/samples/v4_0/51160624686092000173570010000000031000000020-cte.XML"
        )
        kind, errors, warnings = _codes(path.read_bytes())
        assert kind is DocumentKind.CTE and "layout_antigo" in warnings
        assert "xsd_invalido" not in errors
