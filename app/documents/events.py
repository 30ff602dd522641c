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

from app.documents.bulk import recordset, rows_json
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


def record_events(session: Session, *, rows: Sequence[dict[str, Any]]) -> set[tuple[str, str, int]]:
    """Insert events (idempotent); return the (chave, tpEvento, nSeq) actually inserted."""
    if not rows:
        return set()
    unique = {(r["chave"], r["tp_evento"], r["n_seq"]): r for r in rows}
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
    session.execute(_CANCEL, {**params, "cancel": list(CANCEL_EVENTS)})
    linked = [row[0] for row in session.execute(_LINK, params)]
    files = [i for i in linked if i is not None]
    if files:
        session.execute(_FILES, {"emp": empresa_id, "ids": json.dumps(files)})
    return len(linked)
