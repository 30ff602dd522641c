"""The office's guide PDF: pt-BR fields, DAS memo, deterministic bytes."""

from __future__ import annotations

import zlib
from datetime import date
from decimal import Decimal as D

from app.guides.pdf import GuidePdfData, render_guide_pdf

MEMO = {
    "periodo_rbt12": ["2025-05", "2026-04"],
    "rbt12_informada": "250000.00",
    "rbt12": "250000.00",
    "rbt12_proporcional": False,
    "faixa": 2,
    "fator_r": None,
    "linhas": [
        {
            "anexo": "I",
            "tributado_como": "I",
            "faixa": 2,
            "aliquota_nominal": "0.073",
            "parcela_deduzir": "5940.00",
            "aliquota_efetiva": "0.04924",
            "receita": "10000.00",
            "valor": "492.40",
        }
    ],
    "fonte_legal": "LC 123/2006, Anexos I a V (red. LC 155/2016)",
}


def _data(**kw: object) -> GuidePdfData:
    base: dict[str, object] = {
        "office_name": "Escritório Contábil Exemplo",
        "empresa": "Padaria Pão & Cia Ltda",
        "cnpj": "12ABC34501DE35",
        "tax": "DAS – Simples Nacional",
        "kind": "DAS",
        "competencia": "2026-05",
        "due_date": date(2026, 6, 22),
        "amount": D("1234567.89"),
        "calculation": MEMO,
    }
    base.update(kw)
    return GuidePdfData(**base)  # type: ignore[arg-type]


def _text(pdf: bytes) -> str:
    """Concatenated text of the (deflated) content streams."""
    out = []
    for chunk in pdf.split(b"stream\n")[1:]:
        body = chunk.split(b"\nendstream")[0]
        try:
            out.append(zlib.decompress(body).decode("latin-1"))
        except zlib.error:
            continue
    return "".join(out)


def test_pdf_shows_the_guide_in_pt_br_with_the_das_memo() -> None:
    pdf = render_guide_pdf(_data())
    assert pdf.startswith(b"%PDF-")
    text = _text(pdf)
    for expected in (
        "Padaria Pão & Cia Ltda",
        "12.ABC.345/01DE-35",
        "05/2026",
        "22/06/2026",
        "R$ 1.234.567,89",
        "Memória de cálculo do DAS",
        "R$ 250.000,00",
        "4,9240%",
        "R$ 492,40",
    ):
        assert expected in text, expected


def test_same_inputs_same_bytes_and_changes_show() -> None:
    assert render_guide_pdf(_data()) == render_guide_pdf(_data())
    assert render_guide_pdf(_data()) != render_guide_pdf(_data(amount=D("1.00")))


def test_non_das_guide_without_memo_and_amount_pending() -> None:
    text = _text(
        render_guide_pdf(_data(kind="GFD", tax="FGTS Digital", amount=None, calculation={}))
    )
    assert "a informar" in text and "Memória de cálculo" not in text
