"""The office's guide PDF (fpdf2, pt-BR): empresa, tax, competência, due date, amount, DAS memo.

Pure rendering: same inputs → byte-identical PDF (fixed creation date, core fonts, no random
IDs), so the stored file deduplicates by sha256 and a re-render never creates a new file.
Core fonts are Latin-1, which covers Portuguese; other characters are replaced.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from fpdf import FPDF

from app.fiscal.cnpj import format_cnpj
from app.notify.render import brl, data_br

__all__ = ["GuidePdfData", "render_guide_pdf"]

_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class GuidePdfData:
    """Everything the PDF shows (no ORM objects: the renderer is pure)."""

    office_name: str
    empresa: str
    cnpj: str
    tax: str
    kind: str
    competencia: str  # YYYY-MM
    due_date: date
    amount: Decimal | None
    barcode: str | None = None
    pix_code: str | None = None
    calculation: Mapping[str, Any] = field(default_factory=dict)


def _cnpj(value: str) -> str:
    """Masked CNPJ (app.fiscal.cnpj); an empresa's stored CNPJ is valid, else shown as is."""
    try:
        return format_cnpj(value)
    except ValueError:
        return value


def _latin1(text: str) -> str:
    return text.replace("–", "-").encode("latin-1", "replace").decode("latin-1")


def _pct(fraction: str | None) -> str:
    if fraction in (None, ""):
        return "-"
    value = Decimal(str(fraction)) * 100
    return f"{value:.4f}".replace(".", ",") + "%"


def _comp(value: str) -> str:
    year, month = value[:7].split("-")
    return f"{month}/{year}"


class _Doc(FPDF):
    def __init__(self) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.set_creation_date(_EPOCH)
        self.set_auto_page_break(auto=True, margin=15)
        self.set_margins(15, 15, 15)

    def row(self, label: str, value: str) -> None:
        self.set_font("Helvetica", "B", 10)
        self.cell(55, 7, _latin1(label), border=1)
        self.set_font("Helvetica", "", 10)
        self.cell(0, 7, _latin1(value), border=1, new_x="LMARGIN", new_y="NEXT")

    def grid(self, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        widths = (14, 18, 12, 22, 26, 26, 30, 32)
        self.set_font("Helvetica", "B", 8)
        for w, h in zip(widths, header, strict=True):
            self.cell(w, 6, _latin1(h), border=1, align="C")
        self.ln()
        self.set_font("Helvetica", "", 8)
        for r in rows:
            for w, v in zip(widths, r, strict=True):
                self.cell(w, 6, _latin1(v), border=1, align="R")
            self.ln()


def _memo(pdf: _Doc, calc: Mapping[str, Any]) -> None:
    pdf.ln(4)
    pdf.set_font("Helvetica", "B", 12)
    pdf.cell(0, 8, _latin1("Memória de cálculo do DAS"), new_x="LMARGIN", new_y="NEXT")
    start, end = calc.get("periodo_rbt12", ["", ""])
    rbt12 = brl(calc["rbt12"])
    if calc.get("rbt12_proporcional"):
        rbt12 += " (proporcional ao início de atividade, LC 123/2006 art. 18 § 2º)"
    pdf.row("Período da RBT12", f"{_comp(start)} a {_comp(end)}" if start else "-")
    pdf.row("RBT12 apurada", brl(calc["rbt12_informada"]))
    pdf.row("RBT12 utilizada", rbt12)
    pdf.row("Faixa", str(calc["faixa"]))
    pdf.row("Fator R", _pct(calc.get("fator_r")) if calc.get("fator_r") else "não aplicável")
    pdf.ln(2)
    header = ["Anexo", "Tributado", "Faixa", "Alíq. nominal", "Parcela deduzir"]
    header += ["Alíq. efetiva", "Receita", "Valor"]
    rows = [
        (
            line["anexo"],
            line["tributado_como"],
            str(line["faixa"]),
            _pct(line["aliquota_nominal"]),
            brl(line["parcela_deduzir"]),
            _pct(line["aliquota_efetiva"]),
            brl(line["receita"]),
            brl(line["valor"]),
        )
        for line in calc.get("linhas", [])
    ]
    pdf.grid(header, rows)
    pdf.ln(2)
    pdf.set_font("Helvetica", "", 8)
    formula = "Alíquota efetiva = (RBT12 × alíquota nominal − parcela a deduzir) / RBT12."
    pdf.multi_cell(0, 4, _latin1(f"{formula} Fonte: {calc.get('fonte_legal', '')}."))


def render_guide_pdf(data: GuidePdfData) -> bytes:
    """Render the guide in the office's layout; deterministic for the same ``data``."""
    pdf = _Doc()
    pdf.set_title(_latin1(f"Guia {data.kind} {_comp(data.competencia)} - {data.empresa}"))
    pdf.set_author(_latin1(data.office_name))
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 14)
    pdf.cell(0, 8, _latin1(data.office_name), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 11)
    pdf.cell(0, 7, _latin1(f"Guia de pagamento - {data.tax}"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.row("Empresa", data.empresa)
    pdf.row("CNPJ", _cnpj(data.cnpj))
    pdf.row("Tributo", f"{data.tax} ({data.kind})")
    pdf.row("Competência", _comp(data.competencia))
    pdf.row("Vencimento", data_br(data.due_date))
    pdf.row("Valor", brl(data.amount) if data.amount is not None else "a informar")
    if data.barcode:
        pdf.row("Linha digitável", data.barcode)
    if data.pix_code:
        pdf.set_font("Helvetica", "B", 10)
        pdf.cell(0, 7, "PIX copia e cola", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Courier", "", 8)
        pdf.multi_cell(0, 4, _latin1(data.pix_code))
    if data.kind == "DAS" and data.calculation.get("linhas"):
        _memo(pdf, data.calculation)
    pdf.ln(6)
    pdf.set_font("Helvetica", "I", 8)
    note = (
        "Documento preparado pelo escritório contábil. Pague até o vencimento para evitar multa "
        "e juros; em caso de dúvida, responda a mensagem que trouxe esta guia."
    )
    pdf.multi_cell(0, 4, _latin1(note))
    return bytes(pdf.output())
