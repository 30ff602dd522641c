"""Monthly document requests (solicitações mensais): create once, match, close, remind.

Cycle of a request (one per empresa and competência, unique key):

    aberta ──(some items in)──▶ parcial ──(all items in)──▶ concluida
       └──────────── client answers "nada a enviar" ───────▶ nada_a_enviar
    concluida / nada_a_enviar ──("faltam documentos")──▶ aberta / parcial

An item is received when the client attaches a file to it, or — for items with a ``documents``
rule — when the empresa has fiscal documents of that competência with one of the rule's kinds and
its direction (e.g. purchase invoices = NF-e ``entrada``). "Faltam documentos" puts items back to
pending and stamps ``rule.reaberto_em``: only documents that arrive after it count again.

Templates live in ``templates.py`` and the reminder cycle in ``reminders.py`` (both
re-exported here).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.document_requests.reminders import REMINDER_SETTING, send_reminders
from app.document_requests.service_mysql import generate_mysql, notify_created, refresh_mysql
from app.document_requests.templates import seed_templates
from app.errors import MISSING_SOLICITACAO, Conflict, InvalidInput, NotFound
from app.files.store import store_file
from app.fiscal.competencia import Competencia
from app.obligations.catalogue import active_empresa_traits
from app.platform import audit
from app.sqlcompat import is_mysql
from models import (
    DocumentRequest,
    RequestItem,
    RequestTemplate,
)

__all__ = [
    "OPEN",
    "REMINDER_SETTING",
    "answer_nothing_to_send",
    "attach_file",
    "generate_requests",
    "get_request",
    "refresh_requests",
    "report_missing",
    "request_row",
    "seed_templates",
    "send_reminders",
    "store_file",
]

OPEN = ("aberta", "parcial")


def generate_requests(
    session: Session,
    *,
    empresa_ids: Sequence[int],
    competencia: Competencia,
    now: datetime | None = None,
) -> dict[str, int]:
    """Create each empresa's request of ``competencia`` with its items, once; notify the client."""
    moment = now or datetime.now(UTC)
    templates: dict[str, list[tuple[str, str, dict[str, Any]]]] = defaultdict(list)
    for t in session.scalars(select(RequestTemplate).order_by(RequestTemplate.id)):
        templates[t.regime.upper()].append((t.code, t.description, t.rule or {}))
    items_of: dict[int, list[tuple[str, str, dict[str, Any]]]] = {}
    for eid, regime, traits in active_empresa_traits(session, empresa_ids):
        chosen = [t for t in templates.get(regime.upper(), []) if _requires_ok(t[2], traits)]
        if chosen:  # nothing to ask → no request at all
            items_of[eid] = chosen
    if not items_of:
        return {"criadas": 0, "itens": 0, "notificacoes": 0}
    if is_mysql(session):
        return generate_mysql(session, items_of, competencia, moment)
    created = session.execute(
        text(
            "INSERT INTO document_requests (empresa_id, competencia, status, reminders_sent, "
            "created_at, updated_at) SELECT e, :c, 'aberta', 0, :now, :now "
            "FROM unnest(CAST(:e AS bigint[])) AS u(e) "
            "ON CONFLICT (empresa_id, competencia) DO NOTHING RETURNING id, empresa_id"
        ),
        {"e": list(items_of), "c": str(competencia), "now": moment},
    ).all()
    cols: dict[str, list[Any]] = {"r": [], "code": [], "d": [], "rule": []}
    for rid, eid in created:
        for code, description, rule in items_of[eid]:
            cols["r"].append(rid)
            cols["code"].append(code)
            cols["d"].append(description)
            cols["rule"].append(json.dumps(rule))
    if cols["r"]:
        session.execute(
            text(
                "INSERT INTO request_items (request_id, code, description, rule, status) "
                "SELECT r, code, d, CAST(rule AS jsonb), 'pendente' FROM unnest("
                "CAST(:r AS bigint[]), CAST(:code AS varchar[]), CAST(:d AS varchar[]), "
                "CAST(:rule AS text[])) AS u(r, code, d, rule) "
                "ON CONFLICT (request_id, code) DO NOTHING"
            ),
            cols,
        )
    queued = notify_created(session, created, items_of, competencia)
    return {"criadas": len(created), "itens": len(cols["r"]), "notificacoes": queued}


def _requires_ok(rule: dict[str, Any], traits: frozenset[str]) -> bool:
    need = rule.get("requires")
    return need is None or need in traits


def _filters(empresa_ids: Sequence[int] | None, request_ids: Sequence[int] | None) -> str:
    sql = ""
    if empresa_ids is not None:
        sql += " AND r.empresa_id = ANY(:ids)"
    if request_ids is not None:
        sql += " AND r.id = ANY(:rids)"
    return sql


def refresh_requests(
    session: Session,
    *,
    empresa_ids: Sequence[int] | None = None,
    request_ids: Sequence[int] | None = None,
    now: datetime | None = None,
) -> dict[str, int]:
    """Mark items received by matching documents; recompute the status of open requests."""
    params: dict[str, Any] = {
        "now": now or datetime.now(UTC),
        "ids": list(empresa_ids or []),
        "rids": list(request_ids or []),
    }
    if is_mysql(session):
        return refresh_mysql(session, empresa_ids, request_ids, params["now"])
    where = _filters(empresa_ids, request_ids)
    matched = session.execute(
        text(
            "UPDATE request_items i SET status = 'recebido', received_at = :now, "
            "updated_at = now() FROM document_requests r WHERE i.request_id = r.id "
            "AND r.status IN ('aberta', 'parcial') AND i.status = 'pendente' "
            "AND i.rule -> 'documents' IS NOT NULL" + where + " AND EXISTS (SELECT 1 FROM "
            "fiscal_documents fd WHERE fd.empresa_id = r.empresa_id "
            "AND fd.competencia = r.competencia AND fd.status <> 'cancelada' "
            "AND fd.direction = i.rule -> 'documents' ->> 'direction' "
            "AND fd.kind IN (SELECT jsonb_array_elements_text(i.rule -> 'documents' -> 'kinds')) "
            "AND (i.rule ->> 'reaberto_em' IS NULL "
            "OR fd.created_at > CAST(i.rule ->> 'reaberto_em' AS timestamptz))) RETURNING i.id"
        ),
        params,
    ).all()
    changed = session.execute(
        text(
            "WITH agg AS (SELECT r.id, count(*) FILTER (WHERE i.status = 'pendente') AS pend, "
            "count(*) FILTER (WHERE i.status = 'recebido') AS rec FROM document_requests r "
            "JOIN request_items i ON i.request_id = r.id WHERE r.status IN ('aberta', 'parcial')"
            + where
            + " GROUP BY r.id), calc AS (SELECT id, CASE WHEN pend = 0 THEN 'concluida' "
            "WHEN rec > 0 THEN 'parcial' ELSE 'aberta' END AS s FROM agg) "
            "UPDATE document_requests r SET status = calc.s, updated_at = now(), "
            "closed_at = CASE WHEN calc.s = 'concluida' THEN CAST(:now AS timestamptz) END "
            "FROM calc WHERE r.id = calc.id AND r.status <> calc.s RETURNING r.id, calc.s"
        ),
        params,
    ).all()
    return {
        "itens_recebidos": len(matched),
        "concluidas": sum(1 for _, s in changed if s == "concluida"),
        "alteradas": len(changed),
    }


def _load(session: Session, request_id: int) -> DocumentRequest:
    row = session.get(DocumentRequest, request_id, with_for_update=True)
    if row is None:
        raise MISSING_SOLICITACAO.error()
    return row


def request_row(session: Session, *, request_id: int) -> DocumentRequest:
    """A request without its items (e.g. to check scope before loading them), or NotFound."""
    row = session.get(DocumentRequest, request_id)
    if row is None:
        raise MISSING_SOLICITACAO.error()
    return row


def get_request(session: Session, *, request_id: int) -> tuple[DocumentRequest, list[RequestItem]]:
    """A request and its items, or NotFound."""
    row = request_row(session, request_id=request_id)
    items = session.scalars(
        select(RequestItem).where(RequestItem.request_id == request_id).order_by(RequestItem.id)
    )
    return row, list(items)


def answer_nothing_to_send(
    session: Session,
    *,
    request_id: int,
    actor: str,
    note: str | None = None,
    now: datetime | None = None,
) -> DocumentRequest:
    """The client has nothing to send this month: close the request (audited)."""
    row = _load(session, request_id)
    if row.status not in OPEN:
        raise Conflict("A solicitação já está encerrada.", code="solicitacao_encerrada")
    row.status = "nada_a_enviar"
    row.closed_at = now or datetime.now(UTC)
    row.client_note = note
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="solicitacao.nada_a_enviar",
        entity="document_request",
        entity_id=row.id,
        empresa_id=row.empresa_id,
        reason=note,
    )
    return row


def report_missing(
    session: Session,
    *,
    request_id: int,
    actor: str,
    note: str | None = None,
    item_codes: Sequence[str] | None = None,
    now: datetime | None = None,
) -> DocumentRequest:
    """ "Faltam documentos": items (default: all) back to pending; the request reopens."""
    moment = now or datetime.now(UTC)
    row = _load(session, request_id)
    items = list(session.scalars(select(RequestItem).where(RequestItem.request_id == row.id)))
    wanted = set(item_codes) if item_codes else {i.code for i in items}
    unknown = wanted - {i.code for i in items}
    if unknown:
        raise InvalidInput(
            f"Itens desconhecidos: {', '.join(sorted(unknown))}.", code="item_desconhecido"
        )
    for item in items:
        if item.code in wanted:
            item.status = "pendente"
            item.received_at = None
            item.rule = {**(item.rule or {}), "reaberto_em": moment.isoformat()}
    received = any(i.status == "recebido" for i in items)
    row.status = "parcial" if received else "aberta"
    row.closed_at = None
    row.last_reminder_at = moment  # the reminder cycle restarts from the reopening
    row.client_note = note
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="solicitacao.faltam_documentos",
        entity="document_request",
        entity_id=row.id,
        empresa_id=row.empresa_id,
        reason=note,
        details={"itens": sorted(wanted)},
    )
    return row


def attach_file(
    session: Session,
    *,
    request_id: int,
    item_code: str,
    data: bytes,
    filename: str,
    content_type: str,
    actor: str,
    now: datetime | None = None,
) -> RequestItem:
    """Attach a file to an item: the item is received and the request status recomputed."""
    moment = now or datetime.now(UTC)
    req = _load(session, request_id)
    item = session.scalar(
        select(RequestItem).where(RequestItem.request_id == req.id, RequestItem.code == item_code)
    )
    if item is None:
        raise NotFound("Item não encontrado na solicitação.", code="item_nao_encontrado")
    file_id = store_file(
        session,
        empresa_id=req.empresa_id,
        data=data,
        filename=filename,
        content_type=content_type,
        purpose="solicitacao",
        uploaded_by=actor,
    )
    item.file_id = file_id
    item.status = "recebido"
    item.received_at = moment
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="solicitacao.arquivo_anexado",
        entity="request_item",
        entity_id=item.id,
        empresa_id=req.empresa_id,
        details={"solicitacao": req.id, "item": item_code, "arquivo": file_id},
    )
    refresh_requests(session, request_ids=[req.id], now=moment)
    session.refresh(req)
    return item
