"""`enviar-alertas`: queue alerts for tarefas and guides due in N business days.

The thresholds are data: each obligation's ``alert_business_days`` in the catalogue
(``app/fiscal/data/obligations.toml``, copied into ``Obligation.rule``; default 5, 2 and 0), or the
empresa's own override (``company_obligations.overrides``). ``n`` is the number of business days
in (today, effective due date] — the legal date, or the business day before it when a rule keeps
the legal date on a non-business day (DEFIS on Saturday 31/03/2029), as internal targets count —
on the obligation's calendar — the one calendar of
``app.obligations.calendar`` (national, or the município's for ISS, with the holidays operators
registered) — so a holiday in between shifts the alert to the right day, and an alert never fires
on a day that is a holiday on that calendar: it waits for the next business day there.

One alert per (item, threshold), keyed ``alerta:tarefa:{id}:{t}`` / ``alerta:guia:{id}:{t}``.
The threshold of a day is the smallest one that is >= n: a day the flow did not run (downtime)
is caught up by the next run, and an item created late (n = 1) gets only its most urgent alert,
never a burst of the thresholds it already passed.

Recipients: a tarefa alert goes to its responsible staff (the office must do the work) and —
when the tarefa produces no guide — to the empresa's contacts; a guide alert goes to the
empresa's contacts (they pay it), so a client never gets two alerts for the same DAS.

Client orders (SLA): an open order whose due date is at most ``orders.alert_business_days``
business days away (office calendar; the threshold comes from its order type) alerts its
responsible — or the office admins when it has none — once (``alerta:pedido:{id}:a_vencer``),
and once more when the due date has passed (``alerta:pedido:{id}:vencido``); concluded and
cancelled orders never alert. The order's tarefa moves to ``a_vencer`` / ``vencida`` with it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from app.fiscal.calendar import BusinessCalendar
from app.fiscal.obligations import effective_due_date
from app.notifications.outbox import (
    Recipient,
    empresa_recipients,
    enqueue_many,
    notification_rows,
    staff_recipients,
)
from app.obligations.calendar import HolidayIndex, calendar_for, load_holiday_index
from app.obligations.catalogue import NON_RULE_OVERRIDES
from app.sqlcompat import is_mysql
from models import CompanyObligation, Empresa, Guide, Obligation, Staff, Tarefa
from models.orders import Order

__all__ = ["DEFAULT_THRESHOLDS", "TEMPLATE", "queue_due_alerts", "threshold_for"]

DEFAULT_THRESHOLDS = (5, 2, 0)  # the catalogue's default alert_business_days
TEMPLATE = "alerta_tarefa"
ORDER_DONE = ("concluido", "cancelado")
TAREFA_DONE = ("concluida", "dispensada")
GUIDE_DONE = ("paga", "cancelada")
# Calendar days that always hold more business days than the largest threshold + margin.
_HORIZON_FACTOR = 3


_HAS_OVERRIDES = "company_obligations.overrides <> '{}'::jsonb"
_HAS_OVERRIDES_MY = "JSON_LENGTH(company_obligations.overrides) > 0"


def threshold_for(n: int, thresholds: Sequence[int]) -> int | None:
    """The alert threshold reached with ``n`` business days left (None: too early or overdue)."""
    if n < 0:
        return None
    reached = [t for t in thresholds if t >= n]
    return min(reached) if reached else None


def _thresholds(rule: Mapping[str, Any]) -> tuple[int, ...]:
    raw = rule.get("alert_business_days")
    return tuple(int(t) for t in raw) if raw else DEFAULT_THRESHOLDS


class _Rules:
    """Thresholds and calendar of each (obligation, empresa), overrides applied."""

    def __init__(self, session: Session, obligations: Mapping[int, Obligation]) -> None:
        self._obligations = obligations
        self._holidays: HolidayIndex = load_holiday_index(session)
        self._overrides: dict[tuple[int, int], dict[str, Any]] = {
            (eid, oid): dict(ov or {})
            for eid, oid, ov in session.execute(
                select(
                    CompanyObligation.empresa_id,
                    CompanyObligation.obligation_id,
                    CompanyObligation.overrides,
                ).where(text(_HAS_OVERRIDES_MY if is_mysql(session) else _HAS_OVERRIDES))
            )
        }

    def largest_threshold(self) -> int:
        """The largest threshold anywhere (it bounds how far ahead items are read)."""
        rules = [o.rule or {} for o in self._obligations.values()]
        rules += [ov for ov in self._overrides.values() if "alert_business_days" in ov]
        return max((max(_thresholds(r), default=0) for r in rules), default=5)

    def office(self) -> BusinessCalendar:
        """The office calendar (order SLAs are counted on it)."""
        return self._holidays.national_calendar()

    def of(self, obligation_id: int, empresa: Empresa) -> tuple[tuple[int, ...], BusinessCalendar]:
        ob = self._obligations[obligation_id]
        overrides = self._overrides.get((empresa.id, obligation_id), {})
        rule = {
            **(ob.rule or {}),
            **{k: v for k, v in overrides.items() if k not in NON_RULE_OVERRIDES},
        }
        scope = str(rule.get("calendar_scope", "national"))
        cal = calendar_for(self._holidays, scope=scope, uf=empresa.uf, ibge=empresa.ibge_code)
        return _thresholds(rule), cal


def _context(
    label: str, empresa: Empresa, competencia: str, n: int, due: date, eff: date, **extra: Any
) -> dict[str, Any]:
    return {
        "tarefa": label,
        "empresa": empresa.nome_fantasia or empresa.razao_social,
        "competencia": competencia,
        "dias_uteis": n,
        "vencimento": due,
        "vencimento_efetivo": eff,  # the legal date, or the business day before it
        **extra,
    }


def queue_due_alerts(session: Session, *, today: date) -> dict[str, int]:
    """Queue the alerts due ``today``; returns how many items alerted and messages queued."""
    obligations = {o.id: o for o in session.scalars(select(Obligation))}
    rules = _Rules(session, obligations)
    horizon = today + timedelta(days=rules.largest_threshold() * _HORIZON_FACTOR + 10)
    recipients_cache: dict[tuple[int, str], list[Recipient]] = {}

    staff_cache: dict[int | None, list[Recipient]] = {}

    def contacts(empresa_id: int, kind: str) -> list[Recipient]:
        key = (empresa_id, kind)
        if key not in recipients_cache:
            recipients_cache[key] = empresa_recipients(session, empresa_id, kind)
        return recipients_cache[key]

    def staff(staff_id: int | None) -> list[Recipient]:
        if staff_id not in staff_cache:
            staff_cache[staff_id] = staff_recipients(session, [staff_id])
        return staff_cache[staff_id]

    rows: list[dict[str, Any]] = []
    counts = {"tarefas": 0, "guias": 0, "adiados": 0}
    with_guide = set(session.scalars(select(Guide.tarefa_id).where(Guide.tarefa_id.is_not(None))))
    tarefas = session.execute(
        select(Tarefa, Empresa)
        .join(Empresa, Empresa.id == Tarefa.empresa_id)
        .where(
            Tarefa.order_id.is_(None),  # an order's tarefa alerts by its SLA (below)
            Tarefa.status.not_in(TAREFA_DONE),
            Tarefa.due_date >= today,
            Tarefa.due_date <= horizon,
        )
        .order_by(Tarefa.id)
    )
    for tarefa, empresa in tarefas:
        ob = obligations[int(tarefa.obligation_id or 0)]
        thresholds, cal = rules.of(ob.id, empresa)
        # A legal date on a non-business day (kept by its rule): count back from the effective
        # date, as internal targets do (app.fiscal.obligations.effective_due_date).
        eff = effective_due_date(tarefa.due_date, cal)
        n = cal.business_days_between(today, eff)
        t = threshold_for(n, thresholds)
        if t is None:
            continue
        if not cal.is_business_day(today):
            counts["adiados"] += 1  # a holiday where the empresa is: the next business day
            continue
        by_department = (empresa.responsibles or {}).get(tarefa.department)
        staff_id = tarefa.responsible_staff_id or by_department or empresa.responsible_staff_id
        to = list(staff(int(staff_id) if staff_id else None))
        if tarefa.id not in with_guide:
            to += contacts(empresa.id, "alerta_tarefa")
        ctx = _context(ob.name, empresa, tarefa.competencia, n, tarefa.due_date, eff)
        rows += _rows(f"alerta:tarefa:{tarefa.id}:{t}", to, ctx, empresa.id)
        counts["tarefas"] += 1
    guides = session.execute(
        select(Guide, Empresa)
        .join(Empresa, Empresa.id == Guide.empresa_id)
        .where(Guide.status.not_in(GUIDE_DONE), Guide.due_date >= today, Guide.due_date <= horizon)
        .order_by(Guide.id)
    )
    for guide, empresa in guides:
        ob = obligations[guide.obligation_id]
        thresholds, cal = rules.of(ob.id, empresa)
        eff = effective_due_date(guide.due_date, cal)
        n = cal.business_days_between(today, eff)
        t = threshold_for(n, thresholds)
        if t is None:
            continue
        if not cal.is_business_day(today):
            counts["adiados"] += 1
            continue
        label = f"Pagamento da guia {guide.kind} ({ob.name})"
        ctx = _context(label, empresa, guide.competencia, n, guide.due_date, eff, guia_id=guide.id)
        to = contacts(empresa.id, "alerta_guia")
        rows += _rows(f"alerta:guia:{guide.id}:{t}", to, ctx, empresa.id)
        counts["guias"] += 1
    order_rows, counts["pedidos"] = _order_alerts(session, today=today, cal=rules.office())
    counts["mensagens"] = enqueue_many(session, rows + order_rows)
    return counts


def _order_alerts(
    session: Session, *, today: date, cal: BusinessCalendar
) -> tuple[list[dict[str, Any]], int]:
    """SLA alert rows of open client orders (their tarefas follow); returns (rows, orders)."""
    if not cal.is_business_day(today):
        return [], 0
    largest = session.scalar(
        select(func.max(Order.alert_business_days)).where(Order.status.not_in(ORDER_DONE))
    )
    horizon = today + timedelta(days=int(largest or 0) * _HORIZON_FACTOR + 10)
    found = session.execute(
        select(Tarefa, Order, Empresa)
        .join(Order, Order.id == Tarefa.order_id)
        .join(Empresa, Empresa.id == Tarefa.empresa_id)
        .where(
            Order.status.not_in(ORDER_DONE),
            Tarefa.status.not_in(TAREFA_DONE),
            Tarefa.due_date <= horizon,
        )
        .order_by(Order.id)
    ).all()
    admins: list[Recipient] | None = None
    rows: list[dict[str, Any]] = []
    alerted = 0
    for tarefa, order, empresa in found:
        if today > tarefa.due_date:
            stage, status = "vencido", "vencida"
            days = cal.business_days_between(tarefa.due_date, today)
        else:
            days = cal.business_days_between(today, tarefa.due_date)
            if days > order.alert_business_days:
                continue
            stage, status = "a_vencer", "a_vencer"
        tarefa.status = status
        tarefa.late_business_days = days if stage == "vencido" else 0
        to = staff_recipients(session, [order.assigned_staff_id])
        if not to:
            if admins is None:
                ids = session.scalars(
                    select(Staff.id).where(Staff.is_admin.is_(True), Staff.active)
                )
                admins = staff_recipients(session, list(ids))
            to = admins
        ctx = {
            "pedido": order.id,
            "titulo": tarefa.title or f"Pedido nº {order.id}",
            "empresa": empresa.nome_fantasia or empresa.razao_social,
            "etapa": stage,
            "dias_uteis": days,
            "vencimento": tarefa.due_date,
        }
        rows += notification_rows(
            key=f"alerta:pedido:{order.id}:{stage}", recipients=to, template="pedido_prazo",
            context=ctx, empresa_id=empresa.id,
        )  # fmt: skip
        alerted += 1
    session.flush()
    return rows, alerted


def _rows(
    key: str, recipients: Iterable[Recipient], context: dict[str, Any], empresa_id: int
) -> list[dict[str, Any]]:
    return notification_rows(
        key=key, recipients=recipients, template=TEMPLATE, context=context, empresa_id=empresa_id
    )
