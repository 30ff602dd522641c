"""Tarefas (obligation × empresa × competência): bulk generation, status, completion.

Generation is set-based: one query reads a chunk of empresas with their valid obligations, due and
target dates are computed in Python once per (rule, competência, calendar) — there are few
distinct calendars (national, plus one per município for ISS) — and rows go in with one
``INSERT … SELECT FROM unnest(…) ON CONFLICT (empresa_id, obligation_id, competencia) DO NOTHING``
per few thousand rows, so re-running creates nothing new.

Statuses: ``aberta`` → ``a_vencer`` (within the obligation's first alert threshold, in business
days) → ``vencida`` (after the legal due date: ``late_business_days`` counts business days late,
``fine_risk`` is set) ; ``concluida`` / ``dispensada`` are final. Entering ``a_vencer`` or
``vencida`` queues one internal alert to the responsible staff (or the office admins) under the
outbox key ``tarefa:{id}:status:{status}``; client-side alerts are ``enviar-alertas``' job.

Listing, completing and dispensing one tarefa live in ``app.obligations.tarefa_actions``
(re-exported here).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy import bindparam, select, text
from sqlalchemy.orm import Session

from app.fiscal.competencia import Competencia
from app.fiscal.obligations import due_date, internal_target_date, is_generated_for
from app.guides.lifecycle import cancel_guides
from app.notifications import outbox
from app.obligations.calendar import HolidayIndex, calendar_for, load_holiday_index
from app.obligations.catalogue import active_obligations, dump_json, rule_from_json
from app.obligations.tarefa_actions import (
    TarefaView,
    complete_tarefa,
    dispense_tarefa,
    get_tarefa,
    list_tarefas,
)
from app.obligations.tarefas_mysql import delete_open_mysql, flush_mysql, update_statuses_mysql
from app.sqlcompat import is_mysql
from models import Empresa, Staff
from models.base import JsonType

__all__ = [
    "OPEN_STATUSES",
    "TarefaView",
    "complete_tarefa",
    "dispense_tarefa",
    "drop_open_tarefas",
    "empresa_chunks",
    "generate_tarefas",
    "get_tarefa",
    "list_tarefas",
    "refresh_statuses",
]

OPEN_STATUSES = ("aberta", "a_vencer", "vencida")
INSERT_BATCH = 5000
# Open tasks further than this from today cannot be inside any alert window.
_STATUS_HORIZON = timedelta(days=180)

_INSERT_SQL = text(
    "WITH ins AS (INSERT INTO tarefas (empresa_id, obligation_id, competencia, due_date, "
    "target_date, status, department, responsible_staff_id, late_business_days, fine_risk) "
    # A responsible who no longer exists leaves the tarefa unassigned (never fails the chunk).
    "SELECT e, o, c, d, t, 'aberta', dep, (SELECT s.id FROM staff s WHERE s.id = u.r), 0, false "
    "FROM unnest(CAST(:e AS bigint[]), "
    "CAST(:o AS bigint[]), CAST(:c AS varchar[]), CAST(:d AS date[]), CAST(:t AS date[]), "
    "CAST(:dep AS varchar[]), CAST(:r AS bigint[])) AS u(e, o, c, d, t, dep, r) "
    "ON CONFLICT (empresa_id, obligation_id, competencia) DO NOTHING RETURNING 1) "
    "SELECT count(*) FROM ins"
)


def empresa_chunks(
    session: Session, *, chunk_size: int = 2000, empresa_ids: Sequence[int] | None = None
) -> list[list[int]]:
    """Active empresa ids in chunks (one Prefect task per chunk, never per empresa)."""
    q = select(Empresa.id).where(Empresa.active.is_(True)).order_by(Empresa.id)
    if empresa_ids:
        q = q.where(Empresa.id.in_(list(empresa_ids)))
    ids = list(session.scalars(q))
    return [ids[i : i + chunk_size] for i in range(0, len(ids), chunk_size)]


def _responsible(
    overrides: dict[str, Any], responsibles: dict[str, Any], dept: str, default: int | None
) -> int | None:
    value = overrides.get("responsible_staff_id") or (responsibles or {}).get(dept) or default
    return int(value) if value is not None else None


def generate_tarefas(
    session: Session,
    *,
    empresa_ids: Sequence[int],
    competencias: Sequence[Competencia],
    holidays: HolidayIndex | None = None,
) -> int:
    """Create the missing tarefas of these empresas for these competências; returns inserted."""
    if not empresa_ids or not competencias:
        return 0
    hol = holidays if holidays is not None else load_holiday_index(session)
    obligations = active_obligations(session)
    comps = sorted(set(competencias))
    query = text(
        "SELECT e.id, e.uf, e.ibge_code, e.responsible_staff_id, e.responsibles, "
        "co.obligation_id, co.overrides, co.valid_from, co.valid_until "
        "FROM empresas e JOIN company_obligations co ON co.empresa_id = e.id "
        f"WHERE e.id {_any(session, 'ids')} AND e.active AND co.active AND co.valid_from <= :last "
        "AND (co.valid_until IS NULL OR co.valid_until >= :first)"
    )
    rows = session.execute(
        _typed(session, query, "ids", "responsibles", "overrides"),
        {"ids": list(empresa_ids), "first": str(comps[0]), "last": str(comps[-1])},
    ).all()
    dates: dict[tuple[str, str, Competencia, tuple[str, str] | None], tuple[date, date] | None] = {}
    cols: dict[str, list[Any]] = {k: [] for k in ("e", "o", "c", "d", "t", "dep", "r")}
    inserted = 0
    for eid, uf, ibge, default_resp, responsibles, oid, overrides, vfrom, vuntil in rows:
        ob = obligations.get(oid)
        if ob is None:
            continue  # deactivated obligation
        ov_json = dump_json(overrides or {})
        rule = rule_from_json(ob.rule_json, ov_json) if overrides else ob.rule
        place = (uf, ibge) if rule.calendar_scope == "municipal" else None
        dept = rule.department
        for comp in comps:
            label = str(comp)
            if label < vfrom or (vuntil is not None and label > vuntil):
                continue
            key = (ob.rule_json, ov_json, comp, place)
            if key not in dates:
                if not is_generated_for(rule, comp):
                    dates[key] = None
                else:
                    cal = calendar_for(hol, scope=rule.calendar_scope, uf=uf, ibge=ibge)
                    due = due_date(rule, comp, cal)
                    dates[key] = (due, internal_target_date(rule, due, cal))
            dd = dates[key]
            if dd is None:
                continue
            cols["e"].append(eid)
            cols["o"].append(oid)
            cols["c"].append(label)
            cols["d"].append(dd[0])
            cols["t"].append(dd[1])
            cols["dep"].append(dept)
            cols["r"].append(_responsible(overrides or {}, responsibles, dept, default_resp))
            if len(cols["e"]) >= INSERT_BATCH:
                inserted += _flush(session, cols)
    return inserted + _flush(session, cols)


def _any(session: Session, param: str) -> str:
    """Membership in a list parameter: ``= ANY(:p)`` (an array) or ``IN :p`` (MySQL)."""
    return f"IN :{param}" if is_mysql(session) else f"= ANY(:{param})"


def _typed(session: Session, query: Any, listed: str | None, *json_cols: str) -> Any:
    """On MySQL: ``listed`` expanded for ``IN``, JSON columns decoded (psycopg does both)."""
    if not is_mysql(session):
        return query
    if listed is not None:
        query = query.bindparams(bindparam(listed, expanding=True))
    return query.columns(**dict.fromkeys(json_cols, JsonType))


def _flush(session: Session, cols: dict[str, list[Any]]) -> int:
    if not cols["e"]:
        return 0
    if is_mysql(session):
        n = flush_mysql(session, cols)
    else:
        n = int(session.execute(_INSERT_SQL, cols).scalar_one())
    for v in cols.values():
        v.clear()
    return n


def _status_for(today: date, due: date, threshold: int, cal: Any) -> tuple[str, int]:
    if today > due:
        return "vencida", cal.business_days_between(due, today)
    if cal.business_days_between(today, due) <= threshold:
        return "a_vencer", 0
    return "aberta", 0


def refresh_statuses(
    session: Session,
    *,
    today: date,
    empresa_ids: Sequence[int] | None = None,
    holidays: HolidayIndex | None = None,
) -> dict[str, int]:
    """Move open tarefas to a_vencer/vencida as of ``today``; queue staff alerts once each."""
    hol = holidays if holidays is not None else load_holiday_index(session)
    sql = (
        "SELECT t.id, t.status, t.due_date, t.late_business_days, t.empresa_id, t.competencia, "
        "t.responsible_staff_id, o.code, o.name, o.rule, co.overrides, e.uf, e.ibge_code, "
        "e.razao_social FROM tarefas t JOIN obligations o ON o.id = t.obligation_id "
        "JOIN empresas e ON e.id = t.empresa_id LEFT JOIN company_obligations co "
        "ON co.empresa_id = t.empresa_id AND co.obligation_id = t.obligation_id "
        "WHERE t.status IN ('aberta', 'a_vencer', 'vencida') AND t.due_date <= :horizon"
    )
    params: dict[str, Any] = {"horizon": today + _STATUS_HORIZON}
    listed = None
    if empresa_ids is not None:
        sql += f" AND t.empresa_id {_any(session, 'ids')}"
        params["ids"], listed = list(empresa_ids), "ids"
    rows = session.execute(_typed(session, text(sql), listed, "rule", "overrides"), params).all()
    cache: dict[tuple[str, str, tuple[str, str] | None, date], tuple[str, int]] = {}
    upd: dict[str, list[Any]] = {"id": [], "s": [], "l": []}
    alerts: list[tuple[Any, str]] = []
    for row in rows:
        rule_json, ov_json = dump_json(row.rule), dump_json(row.overrides or {})
        rule = rule_from_json(rule_json, ov_json)
        place = (row.uf, row.ibge_code) if rule.calendar_scope == "municipal" else None
        key = (rule_json, ov_json, place, row.due_date)
        if key not in cache:
            cal = calendar_for(hol, scope=rule.calendar_scope, uf=row.uf, ibge=row.ibge_code)
            threshold = max(rule.alert_business_days, default=0)
            cache[key] = _status_for(today, row.due_date, threshold, cal)
        status, late = cache[key]
        if status == row.status and late == row.late_business_days:
            continue
        upd["id"].append(row.id)
        upd["s"].append(status)
        upd["l"].append(late)
        if status != row.status and status in ("a_vencer", "vencida"):
            alerts.append((row, status))
    if upd["id"] and is_mysql(session):
        update_statuses_mysql(session, upd)
    elif upd["id"]:
        session.execute(
            text(
                "UPDATE tarefas t SET status = u.s, late_business_days = u.l, "
                "fine_risk = (u.s = 'vencida'), updated_at = now() FROM unnest("
                "CAST(:id AS bigint[]), CAST(:s AS varchar[]), CAST(:l AS int[])) AS u(id, s, l) "
                "WHERE t.id = u.id"
            ),
            upd,
        )
    queued = _queue_alerts(session, alerts)
    statuses = upd["s"]
    return {
        "verificadas": len(rows),
        "atualizadas": len(upd["id"]),
        "a_vencer": sum(1 for r, s in alerts if s == "a_vencer"),
        "vencidas": sum(1 for r, s in alerts if s == "vencida"),
        "alertas": queued,
        "vencidas_total": statuses.count("vencida"),
    }


def _queue_alerts(session: Session, alerts: list[tuple[Any, str]]) -> int:
    if not alerts:
        return 0
    staff = {
        s.id: outbox.Recipient("email", s.email, s.name)
        for s in session.scalars(select(Staff).where(Staff.active.is_(True)))
    }
    admins = [
        outbox.Recipient("email", s.email, s.name)
        for s in session.scalars(
            select(Staff).where(Staff.active.is_(True), Staff.is_admin.is_(True))
        )
    ]
    queued = 0
    for row, status in alerts:
        person = staff.get(row.responsible_staff_id)
        recipients = [person] if person is not None else admins
        queued += outbox.enqueue(
            session,
            key=f"tarefa:{row.id}:status:{status}",
            recipients=recipients,
            template=f"tarefa_{status}",
            context={
                "tarefa_id": row.id,
                "obrigacao": row.code,
                "obrigacao_nome": row.name,
                "empresa": row.razao_social,
                "competencia": Competencia.parse(row.competencia).label,
                "vencimento": row.due_date.isoformat(),
                "situacao": status,
            },
            empresa_id=row.empresa_id,
        )
    return queued


def drop_open_tarefas(
    session: Session,
    *,
    empresa_id: int,
    obligation_ids: Sequence[int],
    from_competencia: Competencia,
    actor: str = "sistema",
) -> int:
    """Delete untouched open tarefas from a competência on (obligations that stopped applying);
    their guides, if already generated, are cancelled (:func:`cancel_guides`)."""
    if not obligation_ids:
        return 0
    if is_mysql(session):
        removed: Sequence[Any] = delete_open_mysql(
            session, empresa_id=empresa_id, obligation_ids=list(obligation_ids),
            competencia=str(from_competencia),
        )  # fmt: skip
    else:
        removed = _delete_open(session, empresa_id, obligation_ids, from_competencia)
    cancel_guides(
        session,
        keys=[(empresa_id, obligation_id, str(comp)) for obligation_id, comp in removed],
        actor=actor,
        reason=f"obrigação encerrada a partir de {from_competencia}",
    )
    return len(removed)


def _delete_open(
    session: Session, empresa_id: int, obligation_ids: Sequence[int], from_competencia: Competencia
) -> Sequence[Any]:
    return session.execute(
        text(
            "DELETE FROM tarefas WHERE empresa_id = :e AND obligation_id = ANY(:o) "
            "AND competencia >= :c AND status IN ('aberta', 'a_vencer', 'vencida') "
            "AND completed_at IS NULL RETURNING obligation_id, competencia"
        ),
        {"e": empresa_id, "o": list(obligation_ids), "c": str(from_competencia)},
    ).all()
