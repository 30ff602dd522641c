"""Revenue ledger: gross revenue per empresa × competência × Anexo, and declared payroll.

Sources (``revenue_entries.source``; the month's revenue is the sum of all of them):
- ``documentos``: derived from the indexed fiscal documents (recomputed, never typed in);
- ``ajuste``: an operator's adjustment (e.g. sales without an electronic document);
- ``historico``: opening history of the months before the empresa joined the office.

What counts (LC 123/2006 art. 3º § 1º: receita bruta is the product of sales of goods and
services, excluding cancelled sales and unconditional discounts):
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

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from sqlalchemy import and_, func, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.errors import MISSING_EMPRESA, InvalidInput
from app.fiscal.competencia import Competencia
from app.platform import audit
from models import Empresa, FiscalDocument, PayrollEntry, RevenueEntry

__all__ = [
    "RETURN_CFOPS",
    "SALES_CFOP_SUFFIXES",
    "RefreshResult",
    "anexo_for",
    "classify_document",
    "ledger_sums",
    "payroll_sums",
    "recompute",
    "refresh_dirty",
    "set_entry",
    "set_payroll",
]

ZERO = Decimal("0.00")
SOURCES = ("documentos", "ajuste", "historico")
MANUAL_SOURCES = ("ajuste", "historico")

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


def _document_revenue(total: Any, totals: Mapping[str, Any]) -> Decimal:
    # ICMS-ST and IPI are charged on top of the price and are not the seller's revenue.
    return _decimal(total) - _decimal(totals.get("vST")) - _decimal(totals.get("vIPI"))


@dataclass
class RefreshResult:
    """What a ledger recomputation changed: (empresa, competência) pairs and audited changes."""

    pairs: int = 0
    changed: list[dict[str, Any]] = field(default_factory=list)


def recompute(
    session: Session,
    *,
    pairs: Iterable[tuple[int, str]],
    actor: str = "sistema",
    reason: str = "documentos recebidos",
) -> RefreshResult:
    """Recompute the ``documentos`` entries of (empresa_id, competência) pairs; audit changes."""
    wanted = {(int(e), str(Competencia.parse(c))) for e, c in pairs}
    result = RefreshResult(pairs=len(wanted))
    if not wanted:
        return result
    empresa_ids = {e for e, _ in wanted}
    empresas = {
        row.id: (row.cnpj, list(row.anexos or []))
        for row in session.execute(
            select(Empresa.id, Empresa.cnpj, Empresa.anexos).where(Empresa.id.in_(empresa_ids))
        )
    }
    missing = empresa_ids - empresas.keys()
    if missing:
        raise MISSING_EMPRESA.error()
    key = tuple_(FiscalDocument.empresa_id, FiscalDocument.competencia)
    docs = session.execute(
        select(
            FiscalDocument.empresa_id,
            FiscalDocument.competencia,
            FiscalDocument.kind,
            FiscalDocument.status,
            FiscalDocument.direction,
            FiscalDocument.cfops,
            FiscalDocument.emitter_doc,
            FiscalDocument.total,
            FiscalDocument.totals,
        ).where(key.in_(sorted(wanted)))
    )
    sums: dict[tuple[int, str], dict[str, Decimal]] = defaultdict(dict)
    for d in docs:
        cnpj, anexos = empresas[d.empresa_id]
        verdict = classify_document(
            kind=d.kind,
            status=d.status,
            direction=d.direction,
            cfops=d.cfops or [],
            emitter_doc=d.emitter_doc,
            empresa_cnpj=cnpj,
        )
        if verdict is None:
            continue
        activity, sign = verdict
        anexo = anexo_for(activity, anexos)
        month = sums[(d.empresa_id, d.competencia)]
        month[anexo] = month.get(anexo, ZERO) + sign * _document_revenue(d.total, d.totals or {})
    old: dict[tuple[int, str], dict[str, Decimal]] = defaultdict(dict)
    old_key = tuple_(RevenueEntry.empresa_id, RevenueEntry.competencia)
    for row in session.execute(
        select(
            RevenueEntry.empresa_id,
            RevenueEntry.competencia,
            RevenueEntry.anexo,
            RevenueEntry.amount,
        ).where(RevenueEntry.source == "documentos", old_key.in_(sorted(wanted)))
    ):
        old[(row.empresa_id, row.competencia)][row.anexo] = row.amount
    values: list[dict[str, Any]] = []
    for pair in sorted(wanted):
        new = dict(sums.get(pair, {}))
        for anexo in old.get(pair, {}):
            new.setdefault(anexo, ZERO)  # an Anexo whose documents vanished goes to zero
        if not new:  # keep a zero row so the month is known as computed (refresh_dirty)
            new[anexo_for("comercio", empresas[pair[0]][1])] = ZERO
        for anexo, amount in new.items():
            values.append(
                {
                    "empresa_id": pair[0],
                    "competencia": pair[1],
                    "anexo": anexo,
                    "source": "documentos",
                    "amount": amount,
                    "computed_at": func.now(),
                }
            )
        before = old.get(pair, {})
        if before and any(before.get(a, ZERO) != v for a, v in new.items()):
            change = {
                "empresa_id": pair[0],
                "competencia": pair[1],
                "antes": {a: str(v) for a, v in sorted(before.items())},
                "depois": {a: str(v) for a, v in sorted(new.items())},
            }
            result.changed.append(change)
            audit.record(
                session,
                actor=actor,
                action="receita.recalculada",
                entity="receita",
                entity_id=f"{pair[0]}:{pair[1]}",
                empresa_id=pair[0],
                reason=reason,
                details=change,
            )
    for start in range(0, len(values), 1000):
        stmt = insert(RevenueEntry).values(values[start : start + 1000])
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=["empresa_id", "competencia", "anexo", "source"],
                set_={"amount": stmt.excluded.amount, "computed_at": func.now()},
            )
        )
    return result


def refresh_dirty(
    session: Session,
    *,
    start: Competencia,
    end: Competencia,
    empresa_ids: Iterable[int] | None = None,
    actor: str = "sistema",
) -> RefreshResult:
    """Recompute every month in [start, end] whose documents changed since it was computed."""
    computed = (
        select(
            RevenueEntry.empresa_id,
            RevenueEntry.competencia,
            func.min(RevenueEntry.computed_at).label("at"),
        )
        .where(RevenueEntry.source == "documentos")
        .group_by(RevenueEntry.empresa_id, RevenueEntry.competencia)
        .subquery()
    )
    q = (
        select(FiscalDocument.empresa_id, FiscalDocument.competencia)
        .outerjoin(
            computed,
            and_(
                computed.c.empresa_id == FiscalDocument.empresa_id,
                computed.c.competencia == FiscalDocument.competencia,
            ),
        )
        .where(
            FiscalDocument.competencia >= str(start),
            FiscalDocument.competencia <= str(end),
            (computed.c.at.is_(None)) | (FiscalDocument.updated_at > computed.c.at),
        )
        .group_by(FiscalDocument.empresa_id, FiscalDocument.competencia)
    )
    if empresa_ids is not None:
        q = q.where(FiscalDocument.empresa_id.in_(list(empresa_ids)))
    pairs = [(row.empresa_id, row.competencia) for row in session.execute(q)]
    return recompute(session, pairs=pairs, actor=actor, reason="documentos novos ou alterados")


def ledger_sums(
    session: Session, *, empresa_ids: Iterable[int], start: Competencia, end: Competencia
) -> dict[int, dict[str, dict[str, Decimal]]]:
    """{empresa: {competência: {anexo: amount}}} over [start, end], all sources, one query."""
    out: dict[int, dict[str, dict[str, Decimal]]] = defaultdict(lambda: defaultdict(dict))
    rows = session.execute(
        select(
            RevenueEntry.empresa_id,
            RevenueEntry.competencia,
            RevenueEntry.anexo,
            func.sum(RevenueEntry.amount),
        )
        .where(
            RevenueEntry.empresa_id.in_(list(empresa_ids)),
            RevenueEntry.competencia >= str(start),
            RevenueEntry.competencia <= str(end),
        )
        .group_by(RevenueEntry.empresa_id, RevenueEntry.competencia, RevenueEntry.anexo)
    )
    for empresa_id, comp, anexo, amount in rows:
        out[empresa_id][comp][anexo] = amount
    return out


def payroll_sums(
    session: Session, *, empresa_ids: Iterable[int], start: Competencia, end: Competencia
) -> dict[int, dict[str, Decimal]]:
    """{empresa: {competência: payroll}} over [start, end], one query."""
    out: dict[int, dict[str, Decimal]] = defaultdict(dict)
    rows = session.execute(
        select(PayrollEntry.empresa_id, PayrollEntry.competencia, PayrollEntry.amount).where(
            PayrollEntry.empresa_id.in_(list(empresa_ids)),
            PayrollEntry.competencia >= str(start),
            PayrollEntry.competencia <= str(end),
        )
    )
    for empresa_id, comp, amount in rows:
        out[empresa_id][comp] = amount
    return out


def _check_amount(amount: Decimal, *, allow_negative: bool) -> Decimal:
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise InvalidInput("Valor deve ser decimal.", code="valor_invalido")
    if amount < 0 and not allow_negative:
        raise InvalidInput("Valor não pode ser negativo.", code="valor_invalido")
    return amount.quantize(Decimal("0.01"))


def set_entry(
    session: Session,
    *,
    empresa_id: int,
    competencia: str,
    anexo: str,
    source: str,
    amount: Decimal,
    actor: str,
    note: str | None = None,
) -> RevenueEntry:
    """Declare an adjustment or an opening-history amount (replaces the previous one; audited)."""
    if source not in MANUAL_SOURCES:
        raise InvalidInput("Origem deve ser 'ajuste' ou 'historico'.", code="origem_invalida")
    anexo = anexo.upper()
    if anexo not in {"I", "II", "III", "IV", "V"}:
        raise InvalidInput(f"Anexo inválido: {anexo!r}.", code="anexo_invalido")
    if session.get(Empresa, empresa_id) is None:
        raise MISSING_EMPRESA.error()
    comp = str(Competencia.parse(competencia))
    value = _check_amount(amount, allow_negative=source == "ajuste")
    row = session.scalar(
        select(RevenueEntry).where(
            RevenueEntry.empresa_id == empresa_id,
            RevenueEntry.competencia == comp,
            RevenueEntry.anexo == anexo,
            RevenueEntry.source == source,
        )
    )
    before = None if row is None else str(row.amount)
    if row is None:
        row = RevenueEntry(empresa_id=empresa_id, competencia=comp, anexo=anexo, source=source)
        session.add(row)
    row.amount = value
    row.note = note
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=f"receita.{source}",
        entity="receita",
        entity_id=f"{empresa_id}:{comp}",
        empresa_id=empresa_id,
        reason=note,
        details={"anexo": anexo, "antes": before, "depois": str(value)},
    )
    return row


def set_payroll(
    session: Session, *, empresa_id: int, competencia: str, amount: Decimal, actor: str
) -> PayrollEntry:
    """Declare the payroll of a month (Fator R, LC 123/2006 art. 18 § 24); audited."""
    if session.get(Empresa, empresa_id) is None:
        raise MISSING_EMPRESA.error()
    comp = str(Competencia.parse(competencia))
    value = _check_amount(amount, allow_negative=False)
    row = session.scalar(
        select(PayrollEntry).where(
            PayrollEntry.empresa_id == empresa_id, PayrollEntry.competencia == comp
        )
    )
    before = None if row is None else str(row.amount)
    if row is None:
        row = PayrollEntry(empresa_id=empresa_id, competencia=comp, amount=value)
        session.add(row)
    row.amount = value
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="folha.declarada",
        entity="folha",
        entity_id=f"{empresa_id}:{comp}",
        empresa_id=empresa_id,
        details={"antes": before, "depois": str(value)},
    )
    return row
