"""pt-BR formatting and templates, as clients read them."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.errors import ChannelError
from app.notify.render import brl, competencia, data_br, prazo_dias_uteis, render


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("1234.56"), "R$ 1.234,56"),
        (Decimal("0"), "R$ 0,00"),
        (Decimal("0.005"), "R$ 0,01"),  # half-up to cents
        (Decimal("1234567.8"), "R$ 1.234.567,80"),
        (Decimal("-15.5"), "-R$ 15,50"),
        (999, "R$ 999,00"),
    ],
)
def test_brl_formats_money_the_brazilian_way(value: Decimal, expected: str) -> None:
    assert brl(value) == expected


def test_brl_refuses_float() -> None:
    with pytest.raises(TypeError):
        brl(1.1)  # type: ignore[arg-type]


@given(st.decimals(min_value=-(10**9), max_value=10**9, places=2, allow_nan=False))
def test_brl_round_trips(value: Decimal) -> None:
    text = brl(value)
    number = text.replace("R$ ", "").replace(".", "").replace(",", ".")
    assert Decimal(number) == value


def test_dates_and_competencia() -> None:
    assert data_br(date(2026, 6, 22)) == "22/06/2026"
    assert data_br("2026-06-22") == "22/06/2026"
    assert competencia("2026-05") == "05/2026"
    assert [prazo_dias_uteis(n) for n in (0, 1, 3)] == ["hoje", "em 1 dia útil", "em 3 dias úteis"]


def test_lembrete_lists_every_missing_item() -> None:
    out = render(
        "lembrete_solicitacao",
        {
            "nome": "Ana",
            "empresa": "Padaria Pão Quente",
            "competencia": "2026-05",
            "itens_faltantes": ["Extrato bancário", "Folha de pagamento"],
            "prazo": date(2026, 6, 5),
        },
    )
    assert out.subject == "Lembrete: documentos pendentes de 05/2026 – Padaria Pão Quente"
    assert "- Extrato bancário\n- Folha de pagamento\n" in out.text
    assert "<li>Extrato bancário</li>" in out.html
    assert "05/06/2026" in out.text


def test_html_escapes_client_data_but_text_does_not() -> None:
    context = {
        "nome": "Ana",
        "empresa": "<script>x</script> & Cia",
        "tarefa": "DCTFWeb",
        "competencia": "2026-01",
        "vencimento": date(2026, 2, 27),
        "dias_uteis": 1,
    }
    out = render("alerta_tarefa", context)
    assert "&lt;script&gt;x&lt;/script&gt; &amp; Cia" in out.html
    assert "<script>" not in out.html
    assert "<script>x</script> & Cia" in out.text
    assert "vence em 1 dia útil (27/02/2026)" in out.text


def test_missing_data_is_a_permanent_error() -> None:
    with pytest.raises(ChannelError) as info:
        render("guia_disponivel", {"nome": "Ana"})
    assert info.value.permanent and info.value.code == "falha_permanente"


def test_unknown_template_is_a_permanent_error() -> None:
    with pytest.raises(ChannelError) as info:
        render("nao_existe", {})
    assert info.value.permanent
