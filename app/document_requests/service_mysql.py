"""Monthly document requests: the MySQL/MariaDB spellings of :mod:`app.document_requests.service`
(no ``RETURNING``, no JSON operators in SQL: the JSON rule is matched in Python), and the
notification both paths queue for a new request."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select, tuple_, update
from sqlalchemy.orm import Session

from app.fiscal.competencia import Competencia
from app.notifications import outbox
from app.sqlcompat import insert_many_ignore, insert_new
from models import DocumentRequest, Empresa, FiscalDocument, RequestItem

__all__ = ["generate_mysql", "notify_created", "refresh_mysql"]


def notify_created(
    session: Session,
    created: Sequence[Any],
    items_of: dict[int, list[tuple[str, str, dict[str, Any]]]],
    competencia: Competencia,
) -> int:
    """Queue the client's message about each request created now."""
    recipients = outbox.empresa_recipients_many(
        session, [e for _, e in created], "solicitacao_mensal"
    )
    names = dict(
        session.execute(
            select(Empresa.id, Empresa.razao_social).where(Empresa.id.in_({e for _, e in created}))
        )
        .tuples()
        .all()
    )
    rows: list[dict[str, Any]] = []
    for rid, eid in created:
        rows += outbox.notification_rows(
            key=f"solicitacao:{rid}:criada",
            recipients=recipients.get(eid, []),
            template="solicitacao_mensal",
            context={
                "solicitacao_id": rid,
                "empresa": names.get(eid, ""),
                "competencia": competencia.label,
                "itens": [d for _, d, _ in items_of[eid]],
            },
            empresa_id=eid,
        )
    return outbox.enqueue_many(session, rows)


def generate_mysql(
    session: Session,
    items_of: dict[int, list[tuple[str, str, dict[str, Any]]]],
    competencia: Competencia,
    moment: datetime,
) -> dict[str, int]:
    """:func:`generate_requests` without RETURNING (MySQL/MariaDB)."""
    requests = [
        {"empresa_id": e, "competencia": str(competencia), "status": "aberta",
         "reminders_sent": 0, "created_at": moment, "updated_at": moment}
        for e in items_of
    ]  # fmt: skip
    created = insert_new(
        session,
        DocumentRequest,
        requests,
        index_elements=["empresa_id", "competencia"],
        returning=(DocumentRequest.id, DocumentRequest.empresa_id),
    )
    items = [
        {"request_id": rid, "code": code, "description": d, "rule": rule, "status": "pendente"}
        for rid, eid in created
        for code, d, rule in items_of[eid]
    ]
    insert_many_ignore(session, RequestItem, items, index_elements=["request_id", "code"])
    queued = notify_created(session, created, items_of, competencia)
    return {"criadas": len(created), "itens": len(items), "notificacoes": queued}


def refresh_mysql(
    session: Session,
    empresa_ids: Sequence[int] | None,
    request_ids: Sequence[int] | None,
    now: datetime,
) -> dict[str, int]:
    """:func:`refresh_requests` on MySQL/MariaDB: the JSON rule is matched in Python against
    the latest document per (empresa, competência, direction, kind), then updated by id."""
    scope = [DocumentRequest.status.in_(("aberta", "parcial"))]
    if empresa_ids is not None:
        scope.append(DocumentRequest.empresa_id.in_(list(empresa_ids)))
    if request_ids is not None:
        scope.append(DocumentRequest.id.in_(list(request_ids)))
    pending = session.execute(
        select(RequestItem.id, RequestItem.rule, DocumentRequest.empresa_id,
               DocumentRequest.competencia)
        .join(DocumentRequest, DocumentRequest.id == RequestItem.request_id)
        .where(*scope, RequestItem.status == "pendente")
    ).tuples().all()  # fmt: skip
    pairs = {(e, c) for _, rule, e, c in pending if (rule or {}).get("documents") is not None}
    latest: dict[tuple[int, str, str, str], datetime] = {}
    if pairs:
        docs = session.execute(
            select(FiscalDocument.empresa_id, FiscalDocument.competencia,
                   FiscalDocument.direction, FiscalDocument.kind,
                   func.max(FiscalDocument.created_at))
            .where(tuple_(FiscalDocument.empresa_id, FiscalDocument.competencia).in_(pairs),
                   FiscalDocument.status != "cancelada")
            .group_by(FiscalDocument.empresa_id, FiscalDocument.competencia,
                      FiscalDocument.direction, FiscalDocument.kind)
        ).tuples()  # fmt: skip
        latest = {(e, c or "", d, k): at for e, c, d, k, at in docs}
    matched = []
    for item_id, rule, e, c in pending:
        want = (rule or {}).get("documents")
        if want is None:
            continue
        reopened = rule.get("reaberto_em")
        since = datetime.fromisoformat(reopened) if reopened else None
        for kind in want.get("kinds") or ():
            at = latest.get((e, c, want.get("direction"), kind))
            if at is not None and (since is None or at > since):
                matched.append(item_id)
                break
    if matched:
        session.execute(
            update(RequestItem)
            .where(RequestItem.id.in_(matched))
            .values(status="recebido", received_at=now, updated_at=func.now())
            .execution_options(synchronize_session=False)
        )
    counts = session.execute(
        select(DocumentRequest.id, DocumentRequest.status,
               func.sum(case((RequestItem.status == "pendente", 1), else_=0)),
               func.sum(case((RequestItem.status == "recebido", 1), else_=0)))
        .join(RequestItem, RequestItem.request_id == DocumentRequest.id)
        .where(*scope)
        .group_by(DocumentRequest.id, DocumentRequest.status)
    ).tuples()  # fmt: skip
    changed: dict[str, list[int]] = defaultdict(list)
    for rid, status, pend, rec in counts:
        new = "concluida" if not pend else "parcial" if rec else "aberta"
        if new != status:
            changed[new].append(rid)
    for new, ids in changed.items():
        session.execute(
            update(DocumentRequest)
            .where(DocumentRequest.id.in_(ids))
            .values(status=new, updated_at=func.now(),
                    closed_at=now if new == "concluida" else None)
            .execution_options(synchronize_session=False)
        )  # fmt: skip
    return {
        "itens_recebidos": len(matched),
        "concluidas": len(changed.get("concluida", ())),
        "alteradas": sum(len(ids) for ids in changed.values()),
    }
