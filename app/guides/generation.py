"""Guides: one per guide-bearing tarefa of a competência, generated in bulk and idempotently.

- DAS (obligation ``DAS``, Simples Nacional) is calculated: revenue of the month per Anexo and
  RBT12 (12 months before) from the ledger, Fator R from declared payroll, the start-up rule
  from ``empresa.opened_on`` (``app.fiscal.simples``). The memo is stored in ``calculation``
  (Decimals as strings). A computed DAS is ``pronta``; zero revenue or the 3.6 M sublimit leave it
  ``calculada`` for an operator's review (``calculation.revisao`` says why).
- Every other guide (DAS-MEI, DARF, GFD, DAE, ISS) waits for its official document:
  ``aguardando_documento`` until an operator registers amount + barcode/PIX/PDF → ``pronta``.
- A DAS that cannot be calculated is recorded with ``failure_reason`` ("falha de geração de
  guia", a critical monitor of the operations guide §10) and staff are told through the outbox.
- Due date: the tarefa's legal due date (obligation rule + business-day calendar).
- Status: calculada → aguardando_documento → pronta → enviada → entregue → visualizada → paga, or
  vencida / cancelada. Generation only rewrites guides not yet sent, without an official document.
- A guide whose obligation stops applying — its tarefa dispensed, or removed by a regime change —
  is cancelled (:func:`cancel_guides`): never sent, never alerted, its queued messages withdrawn.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.errors import MISSING_GUIA, Conflict, DomainError, InvalidInput
from app.fiscal.competencia import Competencia
from app.fiscal.obligations import load_catalogue
from app.fiscal.simples import calculate_das
from app.guides import ledger
from app.notifications import outbox
from app.platform import audit
from app.platform.office_settings import office_value
from models import Empresa, Guide, GuideEvent, Notification, Obligation, Staff, Tarefa

__all__ = [
    "CALCULATED_OBLIGATIONS",
    "EDITABLE_STATUSES",
    "cancel_guides",
    "GenerationResult",
    "compute_das",
    "generate",
    "generation_day",
    "guide_empresas",
    "list_guides",
    "register_document",
    "mark_overdue",
]

# Obligation code → how its amount is obtained; anything absent waits for an official document.
CALCULATED_OBLIGATIONS: Mapping[str, str] = {"DAS": "simples_nacional"}
EDITABLE_STATUSES = ("calculada", "aguardando_documento", "pronta")
OVERDUE_FROM = ("pronta", "enviada", "entregue", "visualizada")
DEFAULT_GENERATION_DAY = 5

# guides.amount is Numeric(15, 2): 13 integer digits.
MAX_AMOUNT = Decimal("1e13")


def generation_day(session: Session) -> int:
    """Day of the month gerar-guias acts on (office setting ``dia_geracao_guias``, default 5)."""
    day = int(office_value(session, "dia_geracao_guias", DEFAULT_GENERATION_DAY))
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
    """(amount, status, memo) of a month's DAS from ledger and payroll months (DomainError)."""
    if not anexos:
        raise DomainError("Empresa sem Anexo do Simples Nacional cadastrado.", code="sem_anexo")
    window = list(Competencia.range(competencia.shift(-12), competencia.shift(-1)))
    months_active: int | None = None
    if opened_on is not None:
        first = Competencia.of(opened_on)
        elapsed = (competencia.year - first.year) * 12 + competencia.month - first.month
        if elapsed < 0:
            raise DomainError("Competência anterior à abertura da empresa.", code="antes_abertura")
        if elapsed < 12:  # LC 123/2006 art. 18 § 2º: only the months of activity count
            months_active = elapsed
            window = window[12 - elapsed :]
    keys = [str(c) for c in window]
    rbt12 = sum((sum(months.get(k, {}).values(), Decimal(0)) for k in keys), Decimal(0))
    revenue = {a: v for a, v in months.get(str(competencia), {}).items() if v != 0}
    if not revenue:
        revenue = {str(anexos[0]).upper(): Decimal("0.00")}
    folha: Decimal | None = None
    payroll_keys = [str(competencia)] if months_active == 0 else keys
    if "V" in revenue and any(k in payroll for k in payroll_keys):
        folha = sum((payroll.get(k, Decimal(0)) for k in payroll_keys), Decimal(0))
    calc = calculate_das(revenue, rbt12, payroll_12m=folha, months_active=months_active)
    review = []
    if calc.total == 0:
        review.append("sem_receita")
    if calc.sublimite_excedido:  # LC 123 art. 13-A: ICMS/ISS leave the DAS; needs review
        review.append("sublimite_excedido")
    memo = {
        "tipo": "DAS",
        "competencia": str(competencia),
        "periodo_rbt12": [keys[0], keys[-1]] if keys else [],
        "meses_atividade": months_active,
        "rbt12_informada": str(calc.rbt12_informed),
        "rbt12": str(calc.rbt12),
        "rbt12_proporcional": calc.rbt12_proportional,
        "faixa": calc.faixa,
        "folha_12m": _d(folha),
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
        "revisao": review,
    }
    return calc.total, ("calculada" if review else "pronta"), memo


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
    months = ledger.ledger_sums(session, empresa_ids=ids, start=comp.shift(-12), end=comp)
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
            _reopen(session, old, actor)
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


def cancel_guides(
    session: Session, *, keys: Sequence[tuple[int, int, str]], actor: str, reason: str
) -> list[int]:
    """Cancel the guides of (empresa id, obligation id, competência) whose obligation no longer
    applies; return their ids.

    Each unpaid guide becomes ``cancelada`` (final: never sent, paid or alerted again), with a
    ``cancelada`` protocol event (the status it had) and an audit row; its messages still waiting
    in the outbox are cancelled, so the client never receives a guide the office withdrew. A
    guide already sent is cancelled too (its due-date alerts stop); telling the client is the
    office's call. Paid or already cancelled guides are left alone (idempotent).
    """
    if not keys:
        return []
    match = or_(
        *(
            and_(
                Guide.empresa_id == empresa_id,
                Guide.obligation_id == obligation_id,
                Guide.competencia == str(Competencia.parse(comp)),
            )
            for empresa_id, obligation_id, comp in keys
        )
    )
    found = session.scalars(
        select(Guide)
        .where(match, Guide.status.not_in(("paga", "cancelada")))
        .order_by(Guide.id)
        .with_for_update()
    ).all()
    if not found:
        return []
    for guide in found:
        previous, guide.status = guide.status, "cancelada"
        _recorded(session, guide, "cancelada", actor, {"status_anterior": previous}, reason)
    ids = [g.id for g in found]
    queued = select(GuideEvent.notification_id).where(
        GuideEvent.guide_id.in_(ids), GuideEvent.notification_id.is_not(None)
    )
    # the guide's own messages, and its due-date alerts (keys alerta:guia:{id}:…)
    alerts = or_(*(Notification.idempotency_key.startswith(f"alerta:guia:{i}:") for i in ids))
    session.execute(
        update(Notification)
        .where(or_(Notification.id.in_(queued), alerts), Notification.status == "pendente")
        .values(
            status="cancelada",
            last_error_code="guia_cancelada",
            last_error=f"Guia cancelada: {reason}",
        )
    )
    session.flush()
    return ids


def _reopen(session: Session, guide: Guide, actor: str) -> None:
    """Restore a guide :func:`cancel_guides` cancelled to the status it had (event + audit)."""
    cancelled = session.scalars(
        select(GuideEvent)
        .where(GuideEvent.guide_id == guide.id, GuideEvent.kind == "cancelada")
        .order_by(GuideEvent.id.desc())
        .limit(1)
    ).first()
    previous = (cancelled.details or {}).get("status_anterior") if cancelled else None
    if not previous:
        return  # cancelled some other way: stays cancelled
    guide.status = previous
    _recorded(session, guide, "reaberta", actor, {"status": previous})
    session.flush()


def _recorded(
    session: Session,
    guide: Guide,
    kind: str,
    actor: str,
    details: dict[str, Any],
    reason: str | None = None,
) -> None:
    """A status change outside the delivery protocol: a protocol event and an audit row."""
    event = {**details, "motivo": reason} if reason else details
    session.add(
        GuideEvent(guide_id=guide.id, kind=kind, at=datetime.now(UTC), actor=actor, details=event)
    )
    audit.record(
        session,
        actor=actor,
        action=f"guia.{kind}",
        entity="guia",
        entity_id=guide.id,
        empresa_id=guide.empresa_id,
        reason=reason,
        details={**details, "competencia": str(guide.competencia)},
    )


def mark_overdue(session: Session, *, today: date) -> int:
    """Guides past their due date and not paid become ``vencida``; returns how many."""
    res = session.execute(
        update(Guide)
        .where(Guide.due_date < today, Guide.status.in_(OVERDUE_FROM))
        .values(status="vencida")
        .returning(Guide.id)
    )
    return len(res.all())


def register_document(
    session: Session,
    *,
    guide_id: int,
    amount: Decimal,
    actor: str,
    barcode: str | None = None,
    pix_code: str | None = None,
    official_file_id: int | None = None,
) -> Guide:
    """Register the official amount and barcode/PIX/PDF of a guide → ``pronta`` (audited)."""
    guide = session.get(Guide, guide_id, with_for_update=True)
    if guide is None:
        raise MISSING_GUIA.error()
    if guide.status not in EDITABLE_STATUSES:
        raise Conflict(
            f"A guia já foi enviada (status {guide.status}); use o reenvio após corrigir.",
            code="guia_ja_enviada",
        )
    if (
        not isinstance(amount, Decimal)
        or not amount.is_finite()
        or amount < 0
        or amount >= MAX_AMOUNT
    ):
        raise InvalidInput("Valor da guia inválido.", code="valor_invalido")
    if not (barcode or pix_code or official_file_id or guide.official_file_id):
        raise InvalidInput(
            "Informe a linha digitável, o PIX ou o documento oficial da guia.",
            code="guia_sem_documento",
        )
    before = {"valor": _d(guide.amount), "status": guide.status}
    guide.amount = amount.quantize(Decimal("0.01"))
    guide.barcode = barcode or guide.barcode
    guide.pix_code = pix_code or guide.pix_code
    guide.official_file_id = official_file_id or guide.official_file_id
    guide.failure_reason = None
    guide.pdf_file_id = None  # the office PDF shows amount/barcode: re-rendered at send time
    guide.status = "pronta"
    audit.record(
        session,
        actor=actor,
        action="guia.documento_registrado",
        entity="guia",
        entity_id=guide.id,
        empresa_id=guide.empresa_id,
        details={"antes": before, "valor": str(guide.amount), "arquivo": official_file_id},
    )
    return guide


def list_guides(
    session: Session,
    *,
    competencia: str | None = None,
    status: str | None = None,
    empresa_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Guide]:
    """Guides filtered by competência, status and empresa (newest competência first)."""
    q = select(Guide).order_by(Guide.competencia.desc(), Guide.empresa_id, Guide.id)
    if competencia:
        q = q.where(Guide.competencia == str(Competencia.parse(competencia)))
    if status:
        q = q.where(Guide.status == status)
    if empresa_id is not None:
        q = q.where(Guide.empresa_id == empresa_id)
    return list(session.scalars(q.limit(min(limit, 1000)).offset(offset)))
