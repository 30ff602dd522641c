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
- A month without revenue is calculated at zero on the empresa's first Anexo (flagged).

Limits follow RBA, not RBT12 (LC 123/2006 art. 3º II, §§ 9, 9-A, 10; arts. 13-A, 19, 20 §§ 1º,
1º-A; Res. CGSN 140/2018 art. 24; RFB "Perguntas e Respostas do Simples Nacional" 4.3). RBA is
the gross revenue of the calendar year up to and including the apuração month; RBAA the revenue
of the previous calendar year. Limits: L = R$ 4.8 M, S = R$ 3.6 M (every State has adopted the
3.6 M sublimit since 2024), proportional in the start-up year (R$ 400k / R$ 300k per month from
the opening month to December, art. 3º § 10). The rule used:
- excluded (``excede_limite_simples``, no DAS): RBAA > L (exclusion from 1 January, § 9), or
  the RBA before the month > L × 1.2 (exclusion from the month after the excess, § 9-A);
- still in the Simples but flagged ``limite_excedido_rba``: RBA > L within those bounds (the
  exclusion takes effect next January; revenue above the limit follows Res. CGSN 140 art. 24);
- ICMS/ISS out of the DAS, flagged ``icms_iss_fora_do_das`` (ICMS/ISS are paid to the State /
  município on their own guides): RBAA > S, or the RBA before the month > S × 1.2 (art. 20
  §§ 1º, 1º-A); the DAS amount leaves out the ICMS/ISS share of the repartition table;
- flagged ``sublimite_excedido_rba``: RBA > S in a month not yet impeded (the impediment starts
  next month or next January; the excess follows Res. CGSN 140 art. 24);
- flagged ``rbt12_acima_limite``: RBT12 > L while RBA/RBAA are not — no exclusion; the 6th
  band's formula is used and the accountant confirms it;
- flagged ``sublimite_excedido``: RBT12 > S while not impeded — ICMS/ISS stay due in the DAS but
  the 6th band's repartition has no ICMS/ISS share, so the accountant confirms the amount.
A flagged DAS is stored ``calculada`` (reviewed before it is issued).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from app.errors import DomainError
from app.fiscal.competencia import Competencia
from app.fiscal.simples import DasCalculation, brl, calculate_das, load_simples_table

__all__ = [
    "REVIEW_ICMS_ISS_OUT",
    "REVIEW_LIMIT_RBA",
    "REVIEW_NO_REVENUE",
    "REVIEW_RBT12_ABOVE_LIMIT",
    "REVIEW_SUBLIMITE",
    "REVIEW_SUBLIMIT_RBA",
    "MonthlyDas",
    "YearLimits",
    "monthly_das",
    "year_limits",
]

REVIEW_NO_REVENUE = "sem_receita"
REVIEW_SUBLIMITE = "sublimite_excedido"
REVIEW_SUBLIMIT_RBA = "sublimite_excedido_rba"
REVIEW_ICMS_ISS_OUT = "icms_iss_fora_do_das"
REVIEW_LIMIT_RBA = "limite_excedido_rba"
REVIEW_RBT12_ABOVE_LIMIT = "rbt12_acima_limite"
_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class YearLimits:
    """Limit and sublimit of a calendar year (proportional in the start-up year)."""

    limit: Decimal
    sublimit: Decimal


def year_limits(year: int, opened_on: date | None) -> YearLimits:
    """L and S of ``year`` (LC 123/2006 art. 3º II, § 10; art. 13-A)."""
    table = load_simples_table()
    if opened_on is None or opened_on.year != year:
        return YearLimits(table.limit, table.sublimite)
    months = 12 - opened_on.month + 1
    return YearLimits(table.startup_monthly_limit * months, table.startup_monthly_sublimit * months)


@dataclass(frozen=True, slots=True)
class MonthlyDas:
    """A competência's DAS: the months it looked at and the calculation (see module doc)."""

    competencia: Competencia
    window: tuple[Competencia, ...]  # the months whose revenue makes RBT12, oldest first
    months_active: int | None  # months of activity before the competência; None = 12 or more
    payroll: Decimal | None  # payroll of the Fator R months; None = not used
    calculation: DasCalculation
    review: tuple[str, ...]  # why an operator must look before it is issued (empty: ready)
    rba: Decimal = _ZERO  # calendar-year revenue up to and including the month
    rbaa: Decimal = _ZERO  # revenue of the previous calendar year

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
            "rba": str(self.rba),
            "rbaa": str(self.rbaa),
            "icms_iss_fora_do_das": calc.icms_iss_out,
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
                    "tributo_local": line.local_tax,
                    "icms_iss_excluido": str(line.local_amount) if calc.icms_iss_out else "0.00",
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
    rbaa, rba_before = _rba(revenue, competencia)
    rba = rba_before + sum(month.values(), _ZERO)
    review: list[str] = []
    impeded = _check_limits(competencia, opened_on, rbaa, rba_before, rba, review)
    calc = calculate_das(
        month, rbt12, payroll_12m=folha, months_active=months_active, local_taxes_out=impeded
    )
    if calc.total == 0:
        review.insert(0, REVIEW_NO_REVENUE)
    if calc.rbt12 > load_simples_table().limit and REVIEW_LIMIT_RBA not in review:
        review.append(REVIEW_RBT12_ABOVE_LIMIT)
    if calc.sublimite_excedido and not impeded:
        review.append(REVIEW_SUBLIMITE)
    return MonthlyDas(
        competencia=competencia,
        window=tuple(window),
        months_active=months_active,
        payroll=folha,
        calculation=calc,
        review=tuple(review),
        rba=rba,
        rbaa=rbaa,
    )


def _rba(
    revenue: Mapping[str, Mapping[str, Decimal]], comp: Competencia
) -> tuple[Decimal, Decimal]:
    """(RBAA, RBA of the months of ``comp``'s year before it)."""

    def total(start: Competencia, end: Competencia) -> Decimal:
        months = (str(c) for c in Competencia.range(start, end))
        return sum((sum(revenue.get(k, {}).values(), _ZERO) for k in months), _ZERO)

    year = comp.year
    return (
        total(Competencia(year - 1, 1), Competencia(year - 1, 12)),
        total(Competencia(year, 1), comp.prev()),
    )


def _check_limits(
    comp: Competencia,
    opened_on: date | None,
    rbaa: Decimal,
    rba_before: Decimal,
    rba: Decimal,
    review: list[str],
) -> bool:
    """Apply the RBA rule of the module doc: raise on exclusion, flag, return ``impeded``."""
    tolerance = 1 + load_simples_table().sublimit_tolerance
    previous, current = year_limits(comp.year - 1, opened_on), year_limits(comp.year, opened_on)
    if rbaa > previous.limit:
        raise DomainError(
            f"Receita bruta de {comp.year - 1} ({brl(rbaa)}) excede o limite do Simples "
            f"Nacional ({brl(previous.limit)}): empresa excluída desde 01/01/{comp.year} "
            "(LC 123/2006 art. 3º § 9).",
            code="excede_limite_simples",
            rbaa=str(rbaa),
        )
    if rba_before > current.limit * tolerance:
        raise DomainError(
            f"Receita bruta acumulada de {comp.year} ({brl(rba_before)}) excede em mais de 20% "
            f"o limite do Simples Nacional ({brl(current.limit)}): empresa excluída a partir do "
            "mês seguinte ao do excesso (LC 123/2006 art. 3º § 9-A).",
            code="excede_limite_simples",
            rba=str(rba_before),
        )
    if rba > current.limit:
        review.append(REVIEW_LIMIT_RBA)
    impeded = rbaa > previous.sublimit or rba_before > current.sublimit * tolerance
    if impeded:
        review.append(REVIEW_ICMS_ISS_OUT)
    elif rba > current.sublimit:
        review.append(REVIEW_SUBLIMIT_RBA)
    return impeded
