"""Fiscal events (cancellation, CC-e): kept whatever the arrival order, applied to their document.

Leiaute de eventos 1.00 (NT 2011.003, NT 2014.002, NT 2018.001): 110111 cancelamento and
110112 cancelamento por substituição make the NF-e cancelled (a cancellation never changes the
protNFe cStat, DOMAIN.md); 110110 carta de correção is recorded and linked (the last nSeqEvento
replaces the earlier ones). CT-e events (procEventoCTe, MOC CT-e 4.00) follow the same rules.
Only registered events (retEvento/retEventoCTe cStat 135/136/155) are recorded.
An event whose document has not arrived yet stays with ``applied_at`` NULL and is applied by
:func:`apply_pending_events` when the document comes (any later batch, the end of every upload
and the ``validar-documentos`` flow).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Table, bindparam, text
from sqlalchemy.orm import Session

from app.documents.bulk import json_table, recordset, rows_json, rows_json_mysql
from app.sqlcompat import is_mysql, mysql_ids, mysql_texts
from models import FiscalEvent

__all__ = ["EVENT_EFFECTS", "apply_pending_events", "record_events"]

# tpEvento → effect on the document (rules as data).
EVENT_EFFECTS: Mapping[str, str] = {
    "110111": "cancelar",
    "110112": "cancelar",
    "110110": "registrar",  # CC-e
    # CT-e events (MOC CT-e 4.00) use the same 110111/110110 codes; the other common ones:
    "610110": "registrar",  # prestação do serviço em desacordo (tomador)
    "110180": "registrar",  # comprovante de entrega do CT-e
    "110181": "registrar",  # cancelamento do comprovante de entrega
}
CANCEL_EVENTS = tuple(k for k, v in EVENT_EFFECTS.items() if v == "cancelar")

_EVENTS = cast(Table, FiscalEvent.__table__)
_EVENT_COLUMNS = (
    "empresa_id", "chave", "tp_evento", "n_seq", "cstat", "event_at", "protocol", "details",
    "stored_file_id",
)  # fmt: skip
_INSERT_EVENTS = text(
    f"""
    INSERT INTO fiscal_events ({", ".join(_EVENT_COLUMNS)})
    SELECT {", ".join(_EVENT_COLUMNS)} FROM {recordset(_EVENTS, _EVENT_COLUMNS)}
    ON CONFLICT (empresa_id, chave, tp_evento, n_seq) DO NOTHING
    RETURNING chave, tp_evento, n_seq
    """
)
_CANCEL = text(
    """
    UPDATE fiscal_documents d
       SET status = 'cancelada', cancelled_at = COALESCE(e.event_at, now()), updated_at = now()
      FROM fiscal_events e
     WHERE d.empresa_id = :emp AND e.empresa_id = :emp AND e.chave = d.chave
       AND e.tp_evento IN :cancel
       AND (d.status <> 'cancelada' OR d.cancelled_at IS NULL)
       AND (:all_chaves
            OR d.chave = ANY(ARRAY(SELECT json_array_elements_text(CAST(:chaves AS json)))))
    """
).bindparams(bindparam("cancel", expanding=True))
_LINK = text(
    """
    UPDATE fiscal_events e SET applied_at = now(), updated_at = now()
      FROM fiscal_documents d
     WHERE e.empresa_id = :emp AND d.empresa_id = :emp AND d.chave = e.chave
       AND e.applied_at IS NULL
       AND (:all_chaves
            OR e.chave = ANY(ARRAY(SELECT json_array_elements_text(CAST(:chaves AS json)))))
    RETURNING e.stored_file_id
    """
)
_FILES = text(
    """
    UPDATE upload_files uf SET status = 'evento_aplicado', updated_at = now()
      FROM uploads u
     WHERE uf.upload_id = u.id AND u.empresa_id = :emp
       AND uf.status = 'evento_pendente'
       AND uf.stored_file_id = ANY(ARRAY(SELECT CAST(v AS bigint)
                                         FROM json_array_elements_text(CAST(:ids AS json)) AS v))
    """
)

# MySQL/MariaDB spellings (no RETURNING, multi-table UPDATE … JOIN instead of UPDATE … FROM).
_EVENT_KEY = "e.empresa_id = v.empresa_id AND e.chave = v.chave AND e.tp_evento = v.tp_evento"
_EVENTS_PRESENT_MY = text(
    f"SELECT e.chave, e.tp_evento, e.n_seq FROM fiscal_events e "
    f"JOIN {json_table(_EVENTS, _EVENT_COLUMNS)} ON {_EVENT_KEY} AND e.n_seq = v.n_seq"
)
_INSERT_EVENTS_MY = text(
    f"INSERT INTO fiscal_events ({', '.join(_EVENT_COLUMNS)}) "
    f"SELECT {', '.join(_EVENT_COLUMNS)} FROM {json_table(_EVENTS, _EVENT_COLUMNS)} "
    "ON DUPLICATE KEY UPDATE id = fiscal_events.id"
)
_CANCEL_MY = text(
    f"""
    UPDATE fiscal_documents d
      JOIN fiscal_events e ON e.empresa_id = d.empresa_id AND e.chave = d.chave
       SET d.status = 'cancelada', d.cancelled_at = COALESCE(e.event_at, UTC_TIMESTAMP(6)),
           d.updated_at = UTC_TIMESTAMP(6)
     WHERE d.empresa_id = :emp AND e.empresa_id = :emp
       AND e.tp_evento IN :cancel
       AND (d.status <> 'cancelada' OR d.cancelled_at IS NULL)
       AND (:all_chaves OR d.chave IN {mysql_texts("chaves", 50)})
    """
).bindparams(bindparam("cancel", expanding=True))
_TO_LINK_MY = text(
    f"""
    SELECT e.id, e.stored_file_id FROM fiscal_events e
      JOIN fiscal_documents d ON d.empresa_id = e.empresa_id AND d.chave = e.chave
     WHERE e.empresa_id = :emp AND d.empresa_id = :emp AND e.applied_at IS NULL
       AND (:all_chaves OR e.chave IN {mysql_texts("chaves", 50)})
       FOR UPDATE
    """
)
_LINK_MY = text(
    "UPDATE fiscal_events SET applied_at = UTC_TIMESTAMP(6), updated_at = UTC_TIMESTAMP(6)"
    f" WHERE id IN {mysql_ids('ids')}"
)
_FILES_MY = text(
    f"""
    UPDATE upload_files uf JOIN uploads u ON uf.upload_id = u.id
       SET uf.status = 'evento_aplicado', uf.updated_at = UTC_TIMESTAMP(6)
     WHERE u.empresa_id = :emp AND uf.status = 'evento_pendente'
       AND uf.stored_file_id IN {mysql_ids("ids")}
    """
)


def record_events(session: Session, *, rows: Sequence[dict[str, Any]]) -> set[tuple[str, str, int]]:
    """Insert events (idempotent); return the (chave, tpEvento, nSeq) actually inserted."""
    if not rows:
        return set()
    unique = {(r["chave"], r["tp_evento"], r["n_seq"]): r for r in rows}
    if is_mysql(session):
        # The events already there are read first (an event a concurrent batch inserts between
        # the two statements is counted as inserted here: its state is the same either way).
        params = {"rows": rows_json_mysql(_EVENTS, _EVENT_COLUMNS, unique.values())}
        present = set(session.execute(_EVENTS_PRESENT_MY, params).tuples())
        session.execute(_INSERT_EVENTS_MY, params)
        return {k for k in unique if k not in present}
    params = {"rows": rows_json(_EVENT_COLUMNS, unique.values())}
    return {(c, t, n) for c, t, n in session.execute(_INSERT_EVENTS, params).tuples()}


def apply_pending_events(
    session: Session, *, empresa_id: int, chaves: Iterable[str] | None = None
) -> int:
    """Apply recorded events to documents present now; return how many events were linked."""
    # Lists travel as one JSON parameter: the statement text stays the same whatever the batch
    # size (an expanding IN of 500 values is a new text each time, parsed again by psycopg);
    # "= ANY(ARRAY(…))" builds the list once and probes the index (IN (subquery) could become a
    # nested loop when table statistics lag behind a bulk upload).
    scope = sorted(set(chaves)) if chaves is not None else []
    params = {"emp": empresa_id, "all_chaves": chaves is None, "chaves": json.dumps(scope)}
    my = is_mysql(session)
    session.execute(_CANCEL_MY if my else _CANCEL, {**params, "cancel": list(CANCEL_EVENTS)})
    if my:
        found = session.execute(_TO_LINK_MY, params).tuples().all()
        if found:
            session.execute(_LINK_MY, {"ids": json.dumps([i for i, _ in found])})
        linked = [sid for _, sid in found]
    else:
        linked = [row[0] for row in session.execute(_LINK, params)]
    files = [i for i in linked if i is not None]
    if files:
        session.execute(_FILES_MY if my else _FILES, {"emp": empresa_id, "ids": json.dumps(files)})
    return len(linked)
