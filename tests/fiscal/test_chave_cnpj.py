"""Chave de acesso and CNPJ/CPF rules (MOC NF-e 7.0 item 5.4; IN RFB 2.229/2024)."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.errors import InvalidDocument
from app.fiscal.chave import build_chave, chave_dv, is_valid_chave, parse_chave
from app.fiscal.cnpj import (
    cnpj_check_digits,
    format_cnpj,
    format_cpf,
    is_valid_cnpj,
    is_valid_cpf,
    is_valid_document,
)

MOC_EXAMPLE = "5206043300991100250655012000000780026730161"  # MOC 7.0, DV 5


def test_moc_worked_example_dv_is_5() -> None:
    assert chave_dv(MOC_EXAMPLE) == 5
    assert is_valid_chave(MOC_EXAMPLE + "5")
    assert not is_valid_chave(MOC_EXAMPLE + "4")


def test_parse_chave_splits_the_layout_fields() -> None:
    key = parse_chave("NFe" + MOC_EXAMPLE + "5")
    assert (key.cuf, key.aamm, key.cnpj, key.modelo) == ("52", "0604", "33009911002506", "55")
    assert (key.serie, key.numero, key.tp_emis, key.cnf, key.dv) == (
        "012",
        "000000780",
        "0",
        "26730161",
        "5",
    )
    assert key.competencia == "2006-04"
    assert key.chave == MOC_EXAMPLE + "5"


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("123", "chave_invalida"),
        (MOC_EXAMPLE + "X", "chave_invalida"),
        (MOC_EXAMPLE + "55", "chave_invalida"),  # 45 chars
        (MOC_EXAMPLE + "4", "chave_dv_invalido"),
    ],
)
def test_bad_chave_raises_stable_codes(value: str, code: str) -> None:
    with pytest.raises(InvalidDocument) as exc:
        parse_chave(value)
    assert exc.value.code == code


def test_official_alphanumeric_cnpj_example() -> None:
    assert is_valid_cnpj("12.ABC.345/01DE-35")
    assert is_valid_cnpj("12abc34501de35")  # unmasked, lower case
    assert cnpj_check_digits("12ABC34501DE") == "35"
    assert format_cnpj("12ABC34501DE35") == "12.ABC.345/01DE-35"
    assert not is_valid_cnpj("12.ABC.345/01DE-36")
    assert not is_valid_cnpj("12.ABC.345/01DE-3A")  # DVs are always numeric


def test_numeric_cnpj_and_cpf() -> None:
    assert is_valid_cnpj("11.222.333/0001-81")
    assert not is_valid_cnpj("11.222.333/0001-80")
    assert not is_valid_cnpj("00000000000000")  # passes the arithmetic, not a real CNPJ
    assert is_valid_cpf("529.982.247-25")
    assert not is_valid_cpf("529.982.247-24")
    assert not is_valid_cpf("11111111111")
    assert format_cpf("52998224725") == "529.982.247-25"
    assert is_valid_document("52998224725") and is_valid_document("11222333000181")


def test_alphanumeric_chave_letters_count_as_ord_minus_48() -> None:
    chave = build_chave(
        cuf=35, aamm="2607", cnpj="12ABC34501DE35", modelo=55, serie=1, numero=7, cnf=12345678
    )
    key = parse_chave(chave)
    assert key.cnpj == "12ABC34501DE35"
    # Reference computation written out independently: weights 2..9 from the right.
    total = sum((ord(c) - 48) * (2 + i % 8) for i, c in enumerate(reversed(chave[:43])))
    r = total % 11
    assert int(chave[43]) == (0 if r < 2 else 11 - r)


ALNUM = string.digits + string.ascii_uppercase
cnpj_bases = st.text(alphabet=ALNUM, min_size=12, max_size=12)


@given(
    base=cnpj_bases,
    cuf=st.sampled_from(["11", "29", "35", "43", "53"]),
    year=st.integers(min_value=6, max_value=99),
    month=st.integers(min_value=1, max_value=12),
    modelo=st.sampled_from([55, 65, 57]),
    serie=st.integers(min_value=0, max_value=999),
    numero=st.integers(min_value=1, max_value=999_999_999),
    tp_emis=st.integers(min_value=1, max_value=9),
    cnf=st.integers(min_value=0, max_value=99_999_999),
)
def test_build_then_parse_round_trip(
    base: str,
    cuf: str,
    year: int,
    month: int,
    modelo: int,
    serie: int,
    numero: int,
    tp_emis: int,
    cnf: int,
) -> None:
    cnpj = base + cnpj_check_digits(base)
    aamm = f"{year:02d}{month:02d}"
    chave = build_chave(
        cuf=cuf,
        aamm=aamm,
        cnpj=cnpj,
        modelo=modelo,
        serie=serie,
        numero=numero,
        tp_emis=tp_emis,
        cnf=cnf,
    )
    key = parse_chave(chave)
    assert len(chave) == 44 and is_valid_chave(chave)
    assert key.cnpj == cnpj and cnpj_check_digits(key.cnpj[:12]) == key.cnpj[12:]
    assert (key.cuf, key.aamm, int(key.modelo), int(key.serie)) == (cuf, aamm, modelo, serie)
    assert (int(key.numero), int(key.tp_emis), int(key.cnf)) == (numero, tp_emis, cnf)


def _remainder(first43: str) -> int:
    return sum((ord(c) - 48) * (2 + i % 8) for i, c in enumerate(reversed(first43))) % 11


@given(
    digits=st.text(alphabet=string.digits, min_size=43, max_size=43),
    pos=st.integers(min_value=0, max_value=42),
    new=st.sampled_from(string.digits),
)
def test_dv_detects_any_single_digit_change(digits: str, pos: int, new: str) -> None:
    chave = digits + str(chave_dv(digits))
    changed = chave[:pos] + new + chave[pos + 1 :]
    if changed == chave:
        return
    # Mod 11 with weights 2..9 catches every single substitution, except that remainders 0 and 1
    # both map to DV 0 (MOC 5.4), so a change between those two remainders cannot be seen.
    collapsed = {_remainder(digits), _remainder(changed[:43])} == {0, 1}
    assert is_valid_chave(changed) is collapsed
