"""The synthetic generator produces schema-valid, consistent, deterministic documents."""

from __future__ import annotations

from decimal import Decimal

import pytest
from lxml import etree

from app.fiscal.chave import is_valid_chave
from app.fiscal.nfe.schemas import get_schema
from tests.support.generator import make_cancel_event, make_cce_event, make_nfe

NS = "{http://www.portalfiscal.inf.br/nfe}"
PROC = "nfe/schemas/v4_0/procNFe_v4.00.xsd"
BARE = "nfe/schemas/v4_0/nfe_v4.00.xsd"


def _assert_valid(data: bytes, schema_path: str) -> etree._Element:
    root = etree.fromstring(data)
    schema = get_schema(schema_path)
    assert schema.validate(root), schema.error_log.last_error
    return root


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"modelo": 65, "dest_cnpj": None, "items": 3},
        {"modelo": 65, "dest_cnpj": "52998224725"},
        {"emit_cnpj": "12ABC34501DE35"},  # alphanumeric CNPJ (PL_010f accepts it)
        {"dest_uf": "RJ"},
        {"cfop": "1202", "items": 1},
        {"items": 60, "value": Decimal("123456.78")},
        {"cstat": 302},
        {"uf": "RS", "competencia": "2027-12", "numero": 999999999, "serie": 999},
    ],
)
def test_nfe_proc_is_schema_valid(kwargs: dict[str, object]) -> None:
    args: dict[str, object] = {"emit_cnpj": "11222333000181", "dest_cnpj": "99888777000136"}
    args.update(kwargs)
    root = _assert_valid(make_nfe(**args), PROC)  # type: ignore[arg-type]
    chave = root.findtext(f"{NS}protNFe/{NS}infProt/{NS}chNFe")
    assert chave and is_valid_chave(chave)
    assert root.find(f"{NS}NFe/{NS}infNFe").get("Id") == "NFe" + chave


def test_bare_nfe_is_schema_valid() -> None:
    _assert_valid(make_nfe("11222333000181", "99888777000136", with_protocol=False), BARE)


def test_totals_are_the_sum_of_items_and_size_is_about_10k() -> None:
    data = make_nfe("11222333000181", "99888777000136", value=Decimal("999.99"), items=7)
    root = etree.fromstring(data)
    items = [Decimal(v.text) for v in root.iter(f"{NS}vProd") if v.getparent().tag == f"{NS}prod"]
    icms = sum(Decimal(v.text) for v in root.iter(f"{NS}vICMS") if "ICMS00" in v.getparent().tag)
    tot = root.find(f".//{NS}ICMSTot")
    assert sum(items) == Decimal(tot.findtext(f"{NS}vNF")) == Decimal("999.99")
    assert icms == Decimal(tot.findtext(f"{NS}vICMS"))
    assert 6 * 1024 < len(make_nfe("11222333000181", "99888777000136")) < 14 * 1024


def test_deterministic() -> None:
    a = make_nfe("11222333000181", "99888777000136", numero=5)
    assert a == make_nfe("11222333000181", "99888777000136", numero=5)
    assert a != make_nfe("11222333000181", "99888777000136", numero=6)


def test_events_are_schema_valid() -> None:
    chave = etree.fromstring(make_nfe("11222333000181", "99888777000136")).findtext(f".//{NS}chNFe")
    assert chave
    cancel = _assert_valid(
        make_cancel_event(chave), "nfe_evento_cancel/schemas/v1_0/procEventoCancNFe_v1.00.xsd"
    )
    assert cancel.findtext(f".//{NS}retEvento/{NS}infEvento/{NS}cStat") == "135"
    cce = _assert_valid(
        make_cce_event(chave, seq=2), "nfe_evento_cce/schemas/v1_0/procCCeNFe_v1.00.xsd"
    )
    assert cce.find(f"{NS}evento/{NS}infEvento").get("Id") == f"ID110110{chave}02"
