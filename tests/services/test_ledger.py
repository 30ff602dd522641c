"""Revenue ledger from indexed documents: what counts, what is deducted, late arrivals audited."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D
from itertools import count

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.fiscal.competencia import Competencia
from app.guides import ledger
from models import AuditLog, Empresa, FiscalDocument

_seq = count(1)
CNPJ = "11222333000181"


def _empresa(db: Session, anexos: list[str] | None = None) -> Empresa:
    e = Empresa(
        cnpj=CNPJ,
        razao_social="Padaria Pão Bom Ltda",
        regime="SIMPLES",
        uf="SP",
        ibge_code="3550308",
        anexos=anexos or ["I"],
    )
    db.add(e)
    db.flush()
    return e


def _doc(
    db: Session,
    empresa: Empresa,
    total: str,
    *,
    comp: str = "2026-03",
    cfop: str = "5102",
    status: str = "autorizada",
    direction: str = "saida",
    emitter: str = CNPJ,
    kind: str = "nfe",
    totals: dict[str, str] | None = None,
) -> FiscalDocument:
    d = FiscalDocument(
        empresa_id=empresa.id,
        chave=f"{next(_seq):044d}",
        kind=kind,
        competencia=comp,
        direction=direction,
        emitter_doc=emitter,
        total=D(total),
        totals=totals or {},
        cfops=[cfop],
        status=status,
    )
    db.add(d)
    db.flush()
    return d


def _month(db: Session, empresa: Empresa, comp: str) -> dict[str, D]:
    c = Competencia.parse(comp)
    return dict(ledger.ledger_sums(db, empresa_ids=[empresa.id], start=c, end=c)[empresa.id][comp])


def test_sales_count_cancelled_and_purchases_do_not_returns_are_deducted(db: Session) -> None:
    e = _empresa(db, ["I", "II"])
    _doc(db, e, "1000.00", cfop="5102")  # resale → Anexo I
    _doc(db, e, "500.00", cfop="6101")  # own production, other UF → Anexo II
    _doc(db, e, "300.00", cfop="5405")  # resale under ST (substituído) → Anexo I
    _doc(db, e, "700.00", cfop="5102", status="cancelada")  # cancelled sale: excluded
    _doc(db, e, "900.00", cfop="5102", direction="entrada", emitter="99888777000161")  # purchase
    _doc(db, e, "100.00", cfop="1202", direction="entrada")  # our entry note: return of a sale
    _doc(db, e, "50.00", cfop="5949")  # remessa: not a sale
    _doc(db, e, "220.00", cfop="5102", totals={"vST": "20.00"})  # ST charged on top is not ours
    ledger.recompute(db, pairs=[(e.id, "2026-03")])
    assert _month(db, e, "2026-03") == {"I": D("1400.00"), "II": D("500.00")}


def test_services_and_returns_follow_the_empresa_anexo(db: Session) -> None:
    e = _empresa(db, ["III"])
    _doc(db, e, "800.00", kind="nfse", cfop="")
    _doc(db, e, "200.00", cfop="5933")
    ledger.recompute(db, pairs=[(e.id, "2026-03")])
    assert _month(db, e, "2026-03") == {"III": D("1000.00")}


def test_late_document_for_a_closed_month_is_recomputed_and_audited(db: Session) -> None:
    e = _empresa(db)
    _doc(db, e, "1000.00", comp="2026-02")
    first = ledger.refresh_dirty(db, start=Competencia(2026, 1), end=Competencia(2026, 4))
    assert first.pairs == 1 and first.changed == []  # first computation: nothing to audit
    again = ledger.refresh_dirty(db, start=Competencia(2026, 1), end=Competencia(2026, 4))
    assert again.pairs == 0  # nothing changed since: nothing recomputed

    late = _doc(db, e, "250.00", comp="2026-02")
    # In production it commits in a later transaction; here all share one, so stamp it with the
    # wall clock (later than the transaction's now(), the time the first refresh recorded).
    late.updated_at = datetime.now(UTC)
    db.flush()
    res = ledger.refresh_dirty(db, start=Competencia(2026, 1), end=Competencia(2026, 4))
    assert res.pairs == 1
    assert _month(db, e, "2026-02") == {"I": D("1250.00")}
    row = db.scalar(select(AuditLog).where(AuditLog.action == "receita.recalculada"))
    assert row is not None and row.empresa_id == e.id
    assert row.details["antes"] == {"I": "1000.00"}
    assert row.details["depois"] == {"I": "1250.00"}


def test_cancellation_arriving_later_lowers_the_month(db: Session) -> None:
    e = _empresa(db)
    d = _doc(db, e, "600.00")
    ledger.recompute(db, pairs=[(e.id, "2026-03")])
    d.status = "cancelada"
    db.flush()
    res = ledger.recompute(db, pairs=[(e.id, "2026-03")])
    assert _month(db, e, "2026-03") == {"I": D("0.00")}
    assert res.changed[0]["antes"] == {"I": "600.00"}


def test_adjustments_and_history_add_up_and_are_audited(db: Session) -> None:
    e = _empresa(db)
    _doc(db, e, "1000.00")
    ledger.recompute(db, pairs=[(e.id, "2026-03")])
    ledger.set_entry(
        db,
        empresa_id=e.id,
        competencia="03/2026",
        anexo="I",
        source="ajuste",
        amount=D("-100.00"),
        actor="op",
        note="devolução emitida pelo cliente",
    )
    ledger.set_entry(
        db,
        empresa_id=e.id,
        competencia="2025-01",
        anexo="I",
        source="historico",
        amount=D("5000.00"),
        actor="op",
    )
    assert _month(db, e, "2026-03") == {"I": D("900.00")}
    assert _month(db, e, "2025-01") == {"I": D("5000.00")}
    ledger.set_payroll(db, empresa_id=e.id, competencia="2026-03", amount=D("300.00"), actor="op")
    actions = set(db.scalars(select(AuditLog.action).where(AuditLog.empresa_id == e.id)))
    assert {"receita.ajuste", "receita.historico", "folha.declarada"} <= actions
