"""Gross revenue (receita bruta) of a Simples Nacional empresa from its fiscal documents.

Pure rules over plain values; the ledger (``app.guides.ledger``) loads the documents and stores
the sums. What counts (LC 123/2006 art. 3º § 1º: receita bruta is the product of sales of goods
and services, excluding cancelled sales and unconditional discounts):
- authorised (``status = autorizada``) outgoing (``direction = saida``) documents with a sales
  CFOP (``SALES_CFOP_SUFFIXES``) and NFS-e of services; cancelled, denied and unauthorised ones are
  excluded;
- the empresa's own return entry notes (devolução de venda, ``RETURN_CFOPS``) are deducted;
- ICMS-ST and IPI charged on top of the price (``totals.vST`` / ``totals.vIPI``) are not revenue
  of the seller (they are collected for the State/Union), so they are taken off ``total``.
Limitations (say it, don't hide it): the index keeps document totals, not item values, so a
document mixing a sales CFOP with a non-sales one counts in full; returns issued by the customer
(CFOP 5202/6202 on *their* note) are not deducted automatically because the CFOP describes the
customer's purchase and would double-count our own entry note: an operator adjusts them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import Any

__all__ = [
    "ANEXO_BY_ACTIVITY",
    "RETURN_CFOPS",
    "SALES_CFOP_SUFFIXES",
    "RevenueDocument",
    "anexo_for",
    "classify_document",
    "document_revenue",
    "revenue_by_anexo",
]

ZERO = Decimal("0.00")

# CFOP table: Convênio s/nº de 15/12/1970 (Anexo "Código Fiscal de Operações e Prestações"), as
# restated by Ajuste SINIEF 07/2001. The last three digits name the operation; the first digit the
# place (5 = same UF, 6 = other UF, 7 = abroad). Activity decides the Anexo (see ANEXO_BY_ACTIVITY).
SALES_CFOP_SUFFIXES: Mapping[str, str] = MappingProxyType(
    {
        # 1xx "vendas de produção própria ou de terceiros"
        "101": "industria",  # venda de produção do estabelecimento
        "102": "comercio",  # venda de mercadoria adquirida de terceiros
        "103": "industria",  # produção, efetuada fora do estabelecimento
        "104": "comercio",  # mercadoria de terceiros, efetuada fora do estabelecimento
        "105": "industria",  # produção que não deva por ele transitar
        "106": "comercio",  # mercadoria de terceiros que não deva por ele transitar
        "107": "industria",  # produção destinada a não contribuinte (6107)
        "108": "comercio",  # mercadoria destinada a não contribuinte (6108)
        "109": "industria",  # produção destinada à ZFM / ALC
        "110": "comercio",  # mercadoria destinada à ZFM / ALC
        "111": "industria",  # produção remetida antes em consignação industrial
        "112": "comercio",  # mercadoria remetida antes em consignação industrial
        "113": "industria",  # produção remetida antes em consignação mercantil
        "114": "comercio",  # mercadoria remetida antes em consignação mercantil
        "115": "comercio",  # mercadoria recebida antes em consignação mercantil
        "116": "industria",  # produção originada de encomenda para entrega futura
        "117": "comercio",  # mercadoria originada de encomenda para entrega futura
        "118": "industria",  # produção entregue ao destinatário por conta e ordem
        "119": "comercio",  # mercadoria entregue por conta e ordem
        "120": "comercio",  # mercadoria entregue pelo vendedor remetente (venda à ordem)
        "122": "industria",  # produção remetida para industrialização por conta e ordem
        "123": "comercio",  # mercadoria remetida para industrialização por conta e ordem
        # 4xx "operações com mercadorias sujeitas ao regime de substituição tributária"
        "401": "industria",  # produção, contribuinte substituto
        "402": "industria",  # produção entre contribuintes substitutos
        "403": "comercio",  # mercadoria de terceiros, contribuinte substituto
        "405": "comercio",  # mercadoria de terceiros, contribuinte substituído
        # 35x "prestações de serviço de transporte"
        "351": "servico",
        "352": "servico",
        "353": "servico",
        "354": "servico",
        "355": "servico",
        "356": "servico",
        "357": "servico",
        # 933 "prestação de serviço tributado pelo ISSQN"
        "933": "servico",
    }
)
_SALES_PREFIXES = ("5", "6", "7")

# Devolução de venda (entry notes the empresa issues when a customer returns goods), deducted:
# LC 123/2006 art. 3º § 1º counts sales net of returns ("vendas canceladas"), same CFOP table.
RETURN_CFOPS: Mapping[str, str] = MappingProxyType(
    {
        "1201": "industria",  # devolução de venda de produção do estabelecimento
        "1202": "comercio",  # devolução de venda de mercadoria adquirida de terceiros
        "1410": "industria",  # devolução de venda de produção em operação com ST
        "1411": "comercio",  # devolução de venda de mercadoria em operação com ST
        "2201": "industria",
        "2202": "comercio",
        "2410": "industria",
        "2411": "comercio",
        "3201": "industria",  # devolução de venda de produção (exterior)
        "3202": "comercio",  # devolução de venda de mercadoria (exterior)
    }
)

# Activity → Anexo of LC 123/2006 (art. 18 § 4º: comércio Anexo I, indústria Anexo II, services
# III/IV/V per § 5º-B…5º-I — the empresa's own service Anexo wins).
ANEXO_BY_ACTIVITY: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {"comercio": ("I",), "industria": ("II",), "servico": ("III", "IV", "V")}
)


def anexo_for(activity: str, empresa_anexos: Iterable[str]) -> str:
    """The Anexo an activity's revenue belongs to for an empresa with ``empresa_anexos``."""
    declared = [str(a).upper() for a in empresa_anexos]
    candidates = ANEXO_BY_ACTIVITY[activity]
    for anexo in declared:
        if anexo in candidates:
            return anexo
    return declared[0] if declared else candidates[0]


def _decimal(value: Any) -> Decimal:
    return Decimal(str(value)) if value not in (None, "") else ZERO


def classify_document(
    *,
    kind: str,
    status: str,
    direction: str,
    cfops: Iterable[Any],
    emitter_doc: str | None,
    empresa_cnpj: str,
) -> tuple[str, int] | None:
    """(activity, sign) of a document for the ledger: +1 sale, −1 return, None = not revenue."""
    if status != "autorizada":
        return None
    codes = [str(c) for c in cfops]
    if direction == "saida":
        if kind == "nfse":
            return "servico", 1
        for code in codes:
            if code[:1] in _SALES_PREFIXES and code[1:] in SALES_CFOP_SUFFIXES:
                return SALES_CFOP_SUFFIXES[code[1:]], 1
    if emitter_doc == empresa_cnpj:
        for code in codes:
            if code in RETURN_CFOPS:
                return RETURN_CFOPS[code], -1
    return None


def document_revenue(total: Any, totals: Mapping[str, Any]) -> Decimal:
    """A document's revenue: its total less ICMS-ST and IPI charged on top of the price."""
    return _decimal(total) - _decimal(totals.get("vST")) - _decimal(totals.get("vIPI"))


@dataclass(frozen=True, slots=True)
class RevenueDocument:
    """The facts of one indexed fiscal document the revenue rules look at."""

    kind: str
    status: str
    direction: str
    cfops: Sequence[Any]
    emitter_doc: str | None
    total: Any  # Decimal, or text/None as stored
    totals: Mapping[str, Any] = field(default_factory=dict)


def revenue_by_anexo(
    documents: Iterable[RevenueDocument], *, empresa_cnpj: str, empresa_anexos: Sequence[str]
) -> dict[str, Decimal]:
    """{anexo: revenue} of one empresa's documents: sales less its own returns.

    An Anexo appears only when at least one document counted for it.
    """
    sums: dict[str, Decimal] = {}
    for doc in documents:
        verdict = classify_document(
            kind=doc.kind,
            status=doc.status,
            direction=doc.direction,
            cfops=doc.cfops,
            emitter_doc=doc.emitter_doc,
            empresa_cnpj=empresa_cnpj,
        )
        if verdict is None:
            continue
        activity, sign = verdict
        anexo = anexo_for(activity, empresa_anexos)
        sums[anexo] = sums.get(anexo, ZERO) + sign * document_revenue(doc.total, doc.totals)
    return sums
