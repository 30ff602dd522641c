"""Revenue ledger: gross revenue per empresa × competência × Anexo, and declared payroll.

Sources (``revenue_entries.source``; the month's revenue is the sum of all of them):
- ``documentos``: derived from the indexed fiscal documents (recomputed, never typed in) by the
  rules of :mod:`app.fiscal.revenue` (sales CFOPs, returns, ICMS-ST/IPI);
- ``ajuste``: an operator's adjustment (e.g. sales without an electronic document);
- ``historico``: opening history of the months before the empresa joined the office.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, select, tuple_
from sqlalchemy.orm import Session

from app.errors import MISSING_EMPRESA, InvalidInput
from app.fiscal.competencia import Competencia
from app.fiscal.revenue import RevenueDocument, anexo_for, revenue_by_anexo
from app.platform import audit
from app.sqlcompat import upsert
from models import Empresa, FiscalDocument, PayrollEntry, RevenueEntry

__all__ = [
    "RefreshResult",
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
    by_pair: dict[tuple[int, str], list[RevenueDocument]] = defaultdict(list)
    for d in docs:
        by_pair[(d.empresa_id, d.competencia)].append(
            RevenueDocument(
                kind=d.kind,
                status=d.status,
                direction=d.direction,
                cfops=d.cfops or [],
                emitter_doc=d.emitter_doc,
                total=d.total,
                totals=d.totals or {},
            )
        )
    sums = {
        pair: revenue_by_anexo(
            found, empresa_cnpj=empresas[pair[0]][0], empresa_anexos=empresas[pair[0]][1]
        )
        for pair, found in by_pair.items()
    }
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
        upsert(
            session,
            RevenueEntry,
            values[start : start + 1000],
            index_elements=["empresa_id", "competencia", "anexo", "source"],
            set_=lambda new: [("amount", new.amount), ("computed_at", func.now())],
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
