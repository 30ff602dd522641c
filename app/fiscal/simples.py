"""Simples Nacional: effective rate, Fator R, start-up RBT12 and the monthly DAS amount.

Law (tables in ``data/simples_nacional.toml``):
- LC 123/2006 art. 18 § 1º-A: effective rate = (RBT12 × nominal − deduction) / RBT12, applied to
  the month's revenue of each Anexo; RBT12 = gross revenue of the 12 months before the month.
- LC 123/2006 art. 18 § 2º and Res. CGSN 140/2018 art. 22: in the start-up year, the first month
  uses the month's own revenue × 12; the next 11 months use the arithmetic mean of the months
  before the apuração month × 12 (a month without revenue counts as zero).
- LC 123/2006 art. 18 §§ 5º-J and 5º-M: Anexo V activities are taxed by Anexo III when
  r = payroll(12 m) / RBT12 ≥ 28% (payroll as in § 24). Start-up edge cases follow the PGDAS-D
  rules: payroll > 0 and revenue 0 → r = 28%; payroll 0 → r = 1%.
- Limits are not decided here: exclusion (R$ 4.8 M) and the ICMS/ISS sublimit (R$ 3.6 M) follow
  the calendar-year revenue (RBA), see :mod:`app.fiscal.das`. A RBT12 above R$ 4.8 M is taxed
  with the 6th band's formula (the last band; the caller flags it for the accountant).
- ICMS/ISS out of the DAS (LC 123/2006 arts. 13-A and 20 § 1º): ``local_taxes_out`` removes the
  ICMS (Anexos I, II) or ISS (III–V) share of each line, from the repartition tables of Anexos
  I–V (``local_share`` per band; the ISS share is capped at 5% of the revenue, Anexos III/IV
  5th band). The 6th band has no ICMS/ISS share.

Money is Decimal, rounded half-up to cents; floats are refused.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from importlib import resources

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.errors import ConfigError, InvalidInput

__all__ = [
    "DasCalculation",
    "DasLine",
    "Faixa",
    "calculate_das",
    "effective_rate",
    "faixa_for",
    "fator_r",
    "load_simples_table",
    "brl",
    "proportional_rbt12",
]

CENT = Decimal("0.01")
_ZERO = Decimal(0)
_R_NO_PAYROLL = Decimal("0.01")  # PGDAS-D: payroll zero → r = 1%
_FATOR_R_ANEXO = ("V", "III")  # LC 123 § 5º-J: Anexo V revenue moves to Anexo III


class Faixa(BaseModel):
    """One band of an Anexo: inclusive RBT12 upper bound, nominal rate, deduction."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    upper_bound: Decimal = Field(gt=0)
    nominal_rate: Decimal = Field(gt=0, lt=1)
    deduction: Decimal = Field(ge=0)


class _Anexo(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    code: str
    name: str
    local_tax: str  # ICMS or ISS
    local_share: tuple[Decimal, ...] = Field(min_length=6, max_length=6)
    bands: tuple[Faixa, ...] = Field(min_length=6, max_length=6)


class SimplesTable(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    version: str
    source: str
    limit: Decimal
    sublimite: Decimal
    fator_r_threshold: Decimal
    sublimit_tolerance: Decimal
    startup_monthly_limit: Decimal
    startup_monthly_sublimit: Decimal
    iss_max_effective: Decimal
    anexo: tuple[_Anexo, ...]

    def get(self, anexo: str) -> _Anexo:
        """The Anexo ``anexo`` (I–V)."""
        for item in self.anexo:
            if item.code == anexo:
                return item
        raise InvalidInput(f"Anexo do Simples desconhecido: {anexo!r}.", code="anexo_invalido")

    def faixas(self, anexo: str) -> tuple[Faixa, ...]:
        """The six bands of ``anexo`` (I–V)."""
        return self.get(anexo).bands


@lru_cache(maxsize=1)
def load_simples_table() -> SimplesTable:
    """Load and validate the Anexos table (cached)."""
    raw = resources.files("app.fiscal").joinpath("data/simples_nacional.toml").read_text("utf-8")
    try:
        return SimplesTable.model_validate(tomllib.loads(raw))
    except (ValidationError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError([f"Tabela do Simples Nacional inválida: {exc}"]) from exc


def _money(value: object, what: str) -> Decimal:
    if not isinstance(value, Decimal | int) or isinstance(value, bool):
        raise InvalidInput(f"{what} deve ser Decimal (recebido {type(value).__name__}).")
    dec = Decimal(value)
    if not dec.is_finite() or dec < 0:
        raise InvalidInput(f"{what} deve ser um valor não negativo.", code="valor_invalido")
    return dec


def _brl(value: Decimal) -> str:
    """pt-BR money text: R$ 4.800.000,00."""
    us = f"{value:,.2f}"
    return "R$ " + us.replace(",", "_").replace(".", ",").replace("_", ".")


def faixa_for(anexo: str, rbt12: Decimal) -> tuple[int, Faixa]:
    """The band number (1–6) and band of ``anexo`` for ``rbt12`` (above the limit: band 6)."""
    table = load_simples_table()
    rbt12 = _money(rbt12, "RBT12")
    bands = table.faixas(anexo)
    for number, faixa in enumerate(bands, start=1):
        if rbt12 <= faixa.upper_bound:
            return number, faixa
    # RBT12 above R$ 4.8 M while RBA is not: no exclusion (LC 123 art. 3º § 9 looks at RBA);
    # the last band's formula applies and the caller flags it.
    return len(bands), bands[-1]


def brl(value: Decimal) -> str:
    """pt-BR money text: R$ 4.800.000,00."""
    return _brl(value)


def effective_rate(anexo: str, rbt12: Decimal) -> Decimal:
    """Effective rate (a fraction, unrounded) of ``anexo`` at ``rbt12`` (LC 123 art. 18 § 1º-A)."""
    _, faixa = faixa_for(anexo, rbt12)
    if faixa.deduction == 0:  # band 1: effective == nominal (also avoids / 0)
        return faixa.nominal_rate
    return (rbt12 * faixa.nominal_rate - faixa.deduction) / rbt12


def proportional_rbt12(
    rbt12: Decimal, month_revenue: Decimal, months_active: int | None
) -> tuple[Decimal, bool]:
    """RBT12 to use and whether it was proportionalised (LC 123 art. 18 § 2º).

    ``months_active`` counts the months of activity before the apuração month (0 = this is the
    first month); ``rbt12`` is then the revenue of those months. None or >= 12: no change.
    """
    if months_active is None or months_active >= 12:
        return rbt12, False
    if months_active < 0:
        raise InvalidInput("Meses de atividade não pode ser negativo.", code="valor_invalido")
    if months_active == 0:
        return (month_revenue * 12).quantize(CENT, ROUND_HALF_UP), True
    return (rbt12 / months_active * 12).quantize(CENT, ROUND_HALF_UP), True


def fator_r(payroll: Decimal, revenue: Decimal) -> Decimal:
    """r = payroll / revenue, with the PGDAS-D edge cases (no payroll → 1%; no revenue → 28%)."""
    if payroll == 0:
        return _R_NO_PAYROLL
    if revenue == 0:
        return load_simples_table().fator_r_threshold
    return payroll / revenue


@dataclass(frozen=True, slots=True)
class DasLine:
    """The DAS memo of one Anexo's revenue."""

    anexo: str  # as declared
    taxed_as: str  # after Fator R
    faixa: int
    nominal_rate: Decimal
    deduction: Decimal
    effective_rate: Decimal
    revenue: Decimal
    amount: Decimal  # what the DAS collects for this line
    local_tax: str  # ICMS or ISS
    local_amount: Decimal  # the ICMS/ISS share of the line (left out when local_taxes_out)


@dataclass(frozen=True, slots=True)
class DasCalculation:
    """Calculation memo of a month's DAS (keep it with the guide: it explains the amount)."""

    rbt12_informed: Decimal
    rbt12: Decimal  # the one used for the rates
    rbt12_proportional: bool
    faixa: int
    fator_r: Decimal | None
    sublimite_excedido: bool  # RBT12 above the sublimit (informative: the decision uses RBA)
    icms_iss_out: bool  # ICMS/ISS left out of the DAS (impeded by RBA)
    lines: tuple[DasLine, ...]
    total_revenue: Decimal
    total: Decimal
    legal_source: str


def calculate_das(
    revenue_by_anexo: Mapping[str, Decimal],
    rbt12: Decimal,
    payroll_12m: Decimal | None = None,
    months_active: int | None = None,
    local_taxes_out: bool = False,
) -> DasCalculation:
    """Compute the month's DAS per Anexo (see module doc for RBT12, Fator R and limits).

    ``payroll_12m`` is the payroll of the same months as ``rbt12`` (the month's own payroll
    when ``months_active`` is 0); None means not informed, and Anexo V revenue stays in Anexo V.
    """
    table = load_simples_table()
    revenues = {
        str(k).upper(): _money(v, f"Receita do Anexo {k}") for k, v in revenue_by_anexo.items()
    }
    for code in revenues:
        table.faixas(code)
    informed = _money(rbt12, "RBT12")
    month_total = sum(revenues.values(), _ZERO)
    used, proportional = proportional_rbt12(informed, month_total, months_active)
    faixa_n, _ = faixa_for("I", used)  # bands share bounds across Anexos

    r: Decimal | None = None
    if payroll_12m is not None:
        payroll = _money(payroll_12m, "Folha de salários")
        # Same proportionalisation as RBT12 keeps the ratio of the same months.
        r = fator_r(payroll, month_total if months_active == 0 else informed)

    lines: list[DasLine] = []
    for code, revenue in revenues.items():
        taxed_as = code
        if code == _FATOR_R_ANEXO[0] and r is not None and r >= table.fator_r_threshold:
            taxed_as = _FATOR_R_ANEXO[1]
        number, faixa = faixa_for(taxed_as, used)
        rate = effective_rate(taxed_as, used)
        anexo = table.get(taxed_as)
        local_rate = rate * anexo.local_share[number - 1]
        if anexo.local_tax == "ISS":
            local_rate = min(local_rate, table.iss_max_effective)
        full = (revenue * rate).quantize(CENT, ROUND_HALF_UP)
        local = (revenue * local_rate).quantize(CENT, ROUND_HALF_UP)
        lines.append(
            DasLine(
                anexo=code,
                taxed_as=taxed_as,
                faixa=number,
                nominal_rate=faixa.nominal_rate,
                deduction=faixa.deduction,
                effective_rate=rate,
                revenue=revenue,
                amount=full - local if local_taxes_out else full,
                local_tax=anexo.local_tax,
                local_amount=local,
            )
        )
    return DasCalculation(
        rbt12_informed=informed,
        rbt12=used,
        rbt12_proportional=proportional,
        faixa=faixa_n,
        fator_r=r,
        sublimite_excedido=used > table.sublimite,
        icms_iss_out=local_taxes_out,
        lines=tuple(lines),
        total_revenue=month_total,
        total=sum((line.amount for line in lines), _ZERO),
        legal_source=table.source,
    )
