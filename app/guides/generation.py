"""Guides: one per guide-bearing tarefa of a competência, generated in bulk and idempotently.

- DAS (obligation ``DAS``, Simples Nacional) is calculated by :func:`app.fiscal.das.monthly_das`
  from the ledger's revenue and payroll months and ``empresa.opened_on``; the memo is stored in
  ``calculation`` (Decimals as strings). A computed DAS is ``pronta``; zero revenue or a limit
  decided on the calendar-year revenue (RBA: ICMS/ISS out of the DAS, sublimit or limit exceeded,
  RBT12 above R$ 4.8 M — see :mod:`app.fiscal.das`) leave it ``calculada`` for an operator's
  review (``calculation.revisao`` says why).
- Every other guide (DAS-MEI, DARF, GFD, DAE, ISS) waits for its official document:
  ``aguardando_documento`` until an operator registers amount + barcode/PIX/PDF → ``pronta``
  (:mod:`app.guides.lifecycle`).
- A DAS that cannot be calculated is recorded with ``failure_reason`` ("falha de geração de
  guia", a critical monitor of the operations guide §10) and staff are told through the outbox.
- Due date: the tarefa's legal due date (obligation rule + business-day calendar).
- Status: calculada → aguardando_documento → pronta → enviada → entregue → visualizada → paga, or
  vencida / cancelada. Generation only rewrites guides not yet sent, without an official document,
  and reopens a cancelled guide whose tarefa exists again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.errors import DomainError, InvalidInput
from app.fiscal.competencia import Competencia
from app.fiscal.das import monthly_das
from app.fiscal.obligations import load_catalogue
from app.guides import ledger
from app.guides.lifecycle import EDITABLE_STATUSES, reopen
from app.notifications import outbox
from app.platform import audit
from app.platform.office_settings import GENERATION_DAY, office_value
from app.sqlcompat import is_mysql, upsert
from models import Empresa, Guide, Obligation, Staff, Tarefa

__all__ = [
    "CALCULATED_OBLIGATIONS",
    "GenerationResult",
    "compute_das",
    "generate",
    "generation_day",
    "guide_empresas",
]

# Obligation code → how its amount is obtained; anything absent waits for an official document.
CALCULATED_OBLIGATIONS: Mapping[str, str] = {"DAS": "simples_nacional"}


def generation_day(session: Session) -> int:
    """Day of the month gerar-guias acts on (office setting ``dia_geracao_guias``; its default is
    declared once, in ``app.platform.office_settings.SETTINGS``)."""
    day = int(office_value(session, GENERATION_DAY))
    if not 1 <= day <= 28:
        raise InvalidInput(
            "dia_geracao_guias deve estar entre 1 e 28.", code="configuracao_invalida"
        )
    return day


def _kind(code: str, rule: Mapping[str, Any]) -> str:
    if rule.get("guide_type"):
        return str(rule["guide_type"])
    try:
        return load_catalogue().get(code).guide_type or "DARF"
    except DomainError:
        return "DARF"


def _d(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def compute_das(
    *,
    competencia: Competencia,
    months: Mapping[str, Mapping[str, Decimal]],
    payroll: Mapping[str, Decimal],
    anexos: Sequence[str],
    opened_on: date | None,
) -> tuple[Decimal, str, dict[str, Any]]:
    """(amount, guide status, memo) of a month's DAS from ledger and payroll months."""
    das = monthly_das(
        competencia=competencia,
        revenue=months,
        payroll=payroll,
        anexos=anexos,
        opened_on=opened_on,
    )
    return das.amount, ("calculada" if das.review else "pronta"), das.memo()


@dataclass
class GenerationResult:
    """Counts of one generation batch (small, returned by tasks)."""

    criadas: int = 0
    atualizadas: int = 0
    inalteradas: int = 0
    falhas: int = 0
    divergentes: int = 0
    falhas_detalhe: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for task results and artifacts."""
        return {
            "criadas": self.criadas,
            "atualizadas": self.atualizadas,
            "inalteradas": self.inalteradas,
            "falhas": self.falhas,
            "divergentes": self.divergentes,
        }


def guide_empresas(session: Session, *, competencia: str) -> list[int]:
    """Empresas with a guide-bearing tarefa in ``competencia`` (to batch generation)."""
    q = (
        select(Tarefa.empresa_id)
        .join(Obligation, Obligation.id == Tarefa.obligation_id)
        .where(
            Tarefa.competencia == str(Competencia.parse(competencia)),
            Obligation.generates_guide.is_(True),
            Tarefa.status != "dispensada",
        )
        .distinct()
        .order_by(Tarefa.empresa_id)
    )
    return list(session.scalars(q))


def _targets(session: Session, comp: str, empresa_ids: Sequence[int]) -> list[Any]:
    return list(
        session.execute(
            select(
                Tarefa.id.label("tarefa_id"),
                Tarefa.empresa_id,
                Tarefa.obligation_id,
                Tarefa.due_date,
                Tarefa.responsible_staff_id.label("tarefa_staff"),
                Obligation.code,
                Obligation.name.label("obligation_name"),
                Obligation.rule,
                Obligation.department,
                Empresa.razao_social,
                Empresa.cnpj,
                Empresa.anexos,
                Empresa.opened_on,
                Empresa.responsible_staff_id.label("empresa_staff"),
                Empresa.responsibles,
            )
            .join(Obligation, Obligation.id == Tarefa.obligation_id)
            .join(Empresa, Empresa.id == Tarefa.empresa_id)
            .where(
                Tarefa.competencia == comp,
                Tarefa.empresa_id.in_(list(empresa_ids)),
                Obligation.generates_guide.is_(True),
                Tarefa.status != "dispensada",
            )
        )
    )


def generate(
    session: Session, *, competencia: str, empresa_ids: Sequence[int], actor: str = "gerar-guias"
) -> GenerationResult:
    """Create/update the guides of ``empresa_ids`` for ``competencia`` (bulk, idempotent)."""
    comp = Competencia.parse(competencia)
    result = GenerationResult()
    targets = _targets(session, str(comp), empresa_ids)
    if not targets:
        return result
    ids = sorted({t.empresa_id for t in targets})
    # RBT12 needs the 12 months before; the limits need the calendar-year revenue of this and the
    # previous year (RBA / RBAA, LC 123/2006 art. 3º § 9, art. 20): load from January of last year.
    first = min(comp.shift(-12), Competencia(comp.year - 1, 1))
    months = ledger.ledger_sums(session, empresa_ids=ids, start=first, end=comp)
    payroll = ledger.payroll_sums(session, empresa_ids=ids, start=comp.shift(-12), end=comp)
    existing = {
        (g.empresa_id, g.obligation_id): g
        for g in session.scalars(
            select(Guide).where(Guide.competencia == str(comp), Guide.empresa_id.in_(ids))
        )
    }
    rows: list[dict[str, Any]] = []
    failures: dict[tuple[int, int], tuple[Any, str]] = {}
    for t in targets:
        row: dict[str, Any] = {
            "empresa_id": t.empresa_id,
            "obligation_id": t.obligation_id,
            "tarefa_id": t.tarefa_id,
            "competencia": str(comp),
            "kind": _kind(t.code, t.rule or {}),
            "due_date": t.due_date,
            "amount": None,
            "status": "aguardando_documento",
            "calculation": {},
            "failure_reason": None,
        }
        if t.code in CALCULATED_OBLIGATIONS:
            try:
                amount, status, memo = compute_das(
                    competencia=comp,
                    months=months.get(t.empresa_id, {}),
                    payroll=payroll.get(t.empresa_id, {}),
                    anexos=list(t.anexos or []),
                    opened_on=t.opened_on,
                )
                row.update(amount=amount, status=status, calculation=memo)
            except DomainError as exc:
                reason = f"{exc.message} [{exc.code}]"
                row.update(failure_reason=reason, calculation={"erro": exc.to_dict()})
                failures[(t.empresa_id, t.obligation_id)] = (t, reason)
        old = existing.get((t.empresa_id, t.obligation_id))
        if old is None:
            rows.append(row)
            result.criadas += 1
            continue
        if old.status == "cancelada":
            # Its tarefa exists again (a regime change undone): back to where it was.
            reopen(session, old, actor)
        locked = (
            old.status not in EDITABLE_STATUSES
            or old.official_file_id is not None
            or old.barcode is not None
            or old.pix_code is not None
            or t.code not in CALCULATED_OBLIGATIONS
        )
        if locked:
            _check_divergence(session, result, t, old, row, actor)
            result.inalteradas += 1
            failures.pop((t.empresa_id, t.obligation_id), None)
            continue
        same = (old.amount, old.status, old.calculation, old.failure_reason, old.due_date) == (
            row["amount"],
            row["status"],
            row["calculation"],
            row["failure_reason"],
            row["due_date"],
        )
        if same:
            result.inalteradas += 1
            failures.pop((t.empresa_id, t.obligation_id), None)
            continue
        rows.append(row)
        result.atualizadas += 1
        if old.amount != row["amount"]:
            audit.record(
                session,
                actor=actor,
                action="guia.recalculada",
                entity="guia",
                entity_id=old.id,
                empresa_id=old.empresa_id,
                details={"antes": _d(old.amount), "depois": _d(row["amount"])},
            )
    ids_by_key = _upsert(session, rows)
    for key, (t, reason) in failures.items():
        result.falhas += 1
        result.falhas_detalhe.append({"guia_id": ids_by_key.get(key), "motivo": reason})
        _notify_failure(session, t, ids_by_key.get(key), str(comp), reason)
    return result


def _upsert(session: Session, rows: list[dict[str, Any]]) -> dict[tuple[int, int], int]:
    if is_mysql(session):
        return _upsert_mysql(session, rows)
    ids: dict[tuple[int, int], int] = {}
    for start in range(0, len(rows), 1000):
        ins = insert(Guide).values(rows[start : start + 1000])
        ex = ins.excluded
        stmt = ins.on_conflict_do_update(
            index_elements=["empresa_id", "obligation_id", "competencia"],
            set_={
                "amount": ex.amount,
                "status": ex.status,
                "calculation": ex.calculation,
                "failure_reason": ex.failure_reason,
                "due_date": ex.due_date,
                "tarefa_id": ex.tarefa_id,
                "pdf_file_id": None,  # the rendered PDF is stale: re-rendered at send time
            },
            where=Guide.status.in_(EDITABLE_STATUSES) & Guide.official_file_id.is_(None),
        ).returning(Guide.id, Guide.empresa_id, Guide.obligation_id)
        for gid, empresa_id, obligation_id in session.execute(stmt):
            ids[(empresa_id, obligation_id)] = gid
    return ids


def _upsert_mysql(session: Session, rows: list[dict[str, Any]]) -> dict[tuple[int, int], int]:
    """:func:`_upsert` without RETURNING: the guides that must not change are read (locked)
    first, and the ids of the others are read back after the upsert."""
    ids: dict[tuple[int, int], int] = {}
    key = tuple_(Guide.empresa_id, Guide.obligation_id, Guide.competencia)
    editable = Guide.status.in_(EDITABLE_STATUSES) & Guide.official_file_id.is_(None)
    for start in range(0, len(rows), 1000):
        chunk = rows[start : start + 1000]
        keys = [(r["empresa_id"], r["obligation_id"], r["competencia"]) for r in chunk]
        frozen = set(
            session.execute(
                select(Guide.empresa_id, Guide.obligation_id)
                .where(key.in_(keys), ~editable)
                .with_for_update()
            ).tuples()
        )
        upsert(
            session,
            Guide,
            chunk,
            index_elements=["empresa_id", "obligation_id", "competencia"],
            # status last: the condition reads it (MySQL assigns left to right)
            set_=lambda new: [
                ("amount", new.amount),
                ("calculation", new.calculation),
                ("failure_reason", new.failure_reason),
                ("due_date", new.due_date),
                ("tarefa_id", new.tarefa_id),
                ("pdf_file_id", None),
                ("status", new.status),
            ],
            where=editable,
        )
        got = session.execute(
            select(Guide.id, Guide.empresa_id, Guide.obligation_id).where(key.in_(keys))
        ).tuples()
        for gid, empresa_id, obligation_id in got:
            if (empresa_id, obligation_id) not in frozen:
                ids[(empresa_id, obligation_id)] = gid
    return ids


def _check_divergence(
    session: Session,
    result: GenerationResult,
    t: Any,
    old: Guide,
    row: dict[str, Any],
    actor: str,
) -> None:
    """A sent DAS whose recalculated amount differs is flagged (never silently changed)."""
    if t.code not in CALCULATED_OBLIGATIONS or row["amount"] is None:
        return
    if old.status in ("paga", "cancelada") or old.amount == row["amount"]:
        return
    reason = (
        f"Valor recalculado ({row['amount']}) difere do valor da guia ({old.amount}): "
        "revise e reenvie. [valor_divergente]"
    )
    result.divergentes += 1
    if old.failure_reason == reason:
        return
    old.failure_reason = reason
    audit.record(
        session,
        actor=actor,
        action="guia.valor_divergente",
        entity="guia",
        entity_id=old.id,
        empresa_id=old.empresa_id,
        details={"valor_guia": _d(old.amount), "valor_recalculado": _d(row["amount"])},
    )
    _notify_failure(session, t, old.id, old.competencia, reason)


def _notify_failure(session: Session, t: Any, guide_id: int | None, comp: str, reason: str) -> None:
    raw = (t.empresa_staff, t.tarefa_staff, (t.responsibles or {}).get(t.department))
    recipients = outbox.staff_recipients(session, {int(i) for i in raw if i is not None})
    if not recipients:  # nobody responsible: the office admins watch the critical monitor
        admins = session.scalars(select(Staff.id).where(Staff.is_admin, Staff.active))
        recipients = outbox.staff_recipients(session, list(admins))
    digest = hashlib.sha256(reason.encode()).hexdigest()[:12]
    outbox.enqueue(
        session,
        key=f"falha-guia:{guide_id}:{digest}",
        recipients=recipients,
        template="falha_geracao_guia",
        context={
            "imposto": t.obligation_name,
            "empresa": t.razao_social,
            "cnpj": t.cnpj,
            "competencia": comp,
            "erro": reason,
            "guia_id": guide_id,
        },
        empresa_id=t.empresa_id,
    )
