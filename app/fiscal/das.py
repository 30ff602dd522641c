"""The monthly DAS of a Simples Nacional empresa from its monthly revenue and payroll.

Pure: takes plain values (revenue per competência and Anexo, payroll per competência, the
opening date) and returns a typed result; the guides package loads the figures and stores it.
The rates, bands and Fator R are in :mod:`app.fiscal.simples`; this module chooses the months:
- RBT12 is the gross revenue of the 12 months before the apuração month (LC 123/2006 art. 18
  § 1º), whatever its source (documents, adjustments, opening history).
- Start-up (início de atividade, LC 123/2006 art. 18 § 2º; Res. CGSN 140/2018 art. 22): with
  fewer than 12 months between the opening month and the apuração month, only the months of
  activity count and :func:`app.fiscal.simples.proportional_rbt12` annualises them; a
  competência before the opening month is refused (``antes_abertura``).
- Fator R (LC 123/2006 art. 18 §§ 5º-J, 24): only for Anexo V revenue, and only when some
  payroll was declared for the RBT12 months (the month itself in the first month of activity):
  the payroll of those same months, undeclared months counting as zero.
- A month without revenue is calculated at zero on the empresa's first Anexo; it and a RBT12
  above the sublimite (LC 123/2006 art. 13-A: ICMS/ISS leave the DAS) are flagged for review.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from app.errors import DomainError
from app.fiscal.competencia import Competencia
from app.fiscal.simples import DasCalculation, calculate_das

__all__ = ["REVIEW_NO_REVENUE", "REVIEW_SUBLIMITE", "MonthlyDas", "monthly_das"]

REVIEW_NO_REVENUE = "sem_receita"
REVIEW_SUBLIMITE = "sublimite_excedido"
_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class MonthlyDas:
    """A competência's DAS: the months it looked at and the calculation (see module doc)."""

    competencia: Competencia
    window: tuple[Competencia, ...]  # the months whose revenue makes RBT12, oldest first
    months_active: int | None  # months of activity before the competência; None = 12 or more
    payroll: Decimal | None  # payroll of the Fator R months; None = not used
    calculation: DasCalculation
    review: tuple[str, ...]  # why an operator must look before it is issued (empty: ready)

    @property
    def amount(self) -> Decimal:
        """The DAS amount (sum of the Anexo lines)."""
        return self.calculation.total

    def memo(self) -> dict[str, Any]:
        """The calculation memo as JSON-ready pt-BR fields (Decimals as text)."""
        calc = self.calculation
        keys = [str(c) for c in self.window]
        return {
            "tipo": "DAS",
            "competencia": str(self.competencia),
            "periodo_rbt12": [keys[0], keys[-1]] if keys else [],
            "meses_atividade": self.months_active,
            "rbt12_informada": str(calc.rbt12_informed),
            "rbt12": str(calc.rbt12),
            "rbt12_proporcional": calc.rbt12_proportional,
            "faixa": calc.faixa,
            "folha_12m": None if self.payroll is None else str(self.payroll),
            "fator_r": None if calc.fator_r is None else str(round(calc.fator_r, 6)),
            "sublimite_excedido": calc.sublimite_excedido,
            "linhas": [
                {
                    "anexo": line.anexo,
                    "tributado_como": line.taxed_as,
                    "faixa": line.faixa,
                    "aliquota_nominal": str(line.nominal_rate),
                    "parcela_deduzir": str(line.deduction),
                    "aliquota_efetiva": str(round(line.effective_rate, 8)),
                    "receita": str(line.revenue),
                    "valor": str(line.amount),
                }
                for line in calc.lines
            ],
            "receita_total": str(calc.total_revenue),
            "valor_total": str(calc.total),
            "fonte_legal": calc.legal_source,
            "revisao": list(self.review),
        }


def _months_active(competencia: Competencia, opened_on: date | None) -> int | None:
    """Months of activity before ``competencia`` when fewer than 12 (start-up rule), else None."""
    if opened_on is None:
        return None
    first = Competencia.of(opened_on)
    elapsed = (competencia.year - first.year) * 12 + competencia.month - first.month
    if elapsed < 0:
        raise DomainError("Competência anterior à abertura da empresa.", code="antes_abertura")
    return elapsed if elapsed < 12 else None


def monthly_das(
    *,
    competencia: Competencia,
    revenue: Mapping[str, Mapping[str, Decimal]],
    payroll: Mapping[str, Decimal],
    anexos: Sequence[str],
    opened_on: date | None,
) -> MonthlyDas:
    """The DAS of ``competencia`` (DomainError when it cannot be calculated).

    ``revenue`` is {competência ``YYYY-MM``: {anexo: amount}} and ``payroll`` {competência:
    amount}; months absent count as zero. ``anexos`` are the empresa's declared Anexos (the
    first one carries a month without revenue); ``opened_on`` its opening date, if known.
    """
    if not anexos:
        raise DomainError("Empresa sem Anexo do Simples Nacional cadastrado.", code="sem_anexo")
    months_active = _months_active(competencia, opened_on)
    window = list(Competencia.range(competencia.shift(-12), competencia.shift(-1)))
    if months_active is not None:
        window = window[12 - months_active :]
    keys = [str(c) for c in window]
    rbt12 = sum((sum(revenue.get(k, {}).values(), _ZERO) for k in keys), _ZERO)
    month = {a: v for a, v in revenue.get(str(competencia), {}).items() if v != 0}
    if not month:
        month = {str(anexos[0]).upper(): Decimal("0.00")}
    folha: Decimal | None = None
    payroll_keys = [str(competencia)] if months_active == 0 else keys
    if "V" in month and any(k in payroll for k in payroll_keys):
        folha = sum((payroll.get(k, _ZERO) for k in payroll_keys), _ZERO)
    calc = calculate_das(month, rbt12, payroll_12m=folha, months_active=months_active)
    review: list[str] = []
    if calc.total == 0:
        review.append(REVIEW_NO_REVENUE)
    if calc.sublimite_excedido:
        review.append(REVIEW_SUBLIMITE)
    return MonthlyDas(
        competencia=competencia,
        window=tuple(window),
        months_active=months_active,
        payroll=folha,
        calculation=calc,
        review=tuple(review),
    )
