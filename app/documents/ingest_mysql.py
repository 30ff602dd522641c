"""The MySQL/MariaDB statements of :mod:`app.documents.ingest`.

The same JSON document as PostgreSQL's ``json_to_recordset``, expanded by ``JSON_TABLE``. MySQL 8
has no ``RETURNING``: the documents of the batch are read under ``FOR UPDATE`` first, so which
rows are new or upgraded (an unprotocolled copy replaced by a protocolled one) is known without
it; the conditional update is ``IF(…)`` per column, ``status`` last because the condition reads
it and MySQL assigns left to right.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, text
from sqlalchemy.orm import Session

from app.documents.bulk import json_table, rows_json_mysql
from app.documents.rows import DOC_COLUMNS, DOC_UPDATABLE, FILE_COLUMNS
from app.sqlcompat import mysql_texts
from models import FiscalDocument, UploadFile
from models.base import UtcDateTime

__all__ = ["EXISTING_MY", "UPDATE_FILES_MY", "upsert_documents_mysql"]

_DOCS = cast(Table, FiscalDocument.__table__)
_UF = cast(Table, UploadFile.__table__)
_STATE_MY = text(
    "SELECT chave, id, status FROM fiscal_documents WHERE empresa_id = :emp AND chave IN "
    f"{mysql_texts('chaves', 50)} FOR UPDATE"
)
_T = "fiscal_documents."  # the SELECT has the same column names: qualify them
_SET_FIRST = [c for c in DOC_UPDATABLE if c != "status"]
_KEEP = "fiscal_documents.status = 'sem_protocolo' AND VALUES(status) <> 'sem_protocolo'"
_UPSERT_DOCUMENTS_MY = text(
    f"""
    INSERT INTO fiscal_documents ({", ".join(DOC_COLUMNS)})
    SELECT {", ".join(DOC_COLUMNS)} FROM {json_table(_DOCS, DOC_COLUMNS)}
    ON DUPLICATE KEY UPDATE
       {", ".join(f"{_T}{c} = IF({_KEEP}, VALUES({c}), {_T}{c})" for c in _SET_FIRST)},
       {_T}updated_at = IF({_KEEP}, :now, {_T}updated_at),
       {_T}status = IF({_KEEP}, VALUES(status), {_T}status)
    """
).bindparams(
    bindparam("now", type_=UtcDateTime())
)  # status last: the condition reads it and MySQL assigns left to right
UPDATE_FILES_MY = text(
    f"""
    UPDATE upload_files uf JOIN {json_table(_UF, FILE_COLUMNS)} ON uf.id = v.id
       SET uf.status = v.status, uf.error_code = v.error_code, uf.error_message = v.error_message,
           uf.warnings = v.warnings, uf.document_id = v.document_id,
           uf.updated_at = UTC_TIMESTAMP(6)
    """
)
EXISTING_MY = text(
    "SELECT chave, id FROM fiscal_documents WHERE empresa_id = :emp AND chave IN :chaves"
).bindparams(bindparam("chaves", expanding=True))


def upsert_documents_mysql(
    session: Session,
    empresa_id: int,
    docs: Mapping[str, tuple[dict[str, Any], Any]],
    rows: list[dict[str, Any]],
    now: datetime,
) -> tuple[dict[str, int], dict[str, int]]:
    """Upsert the documents; (written, untouched) chave → id, as the PostgreSQL upsert's
    RETURNING tells them (a document counts as written when new or upgraded by a protocol)."""
    params = {"emp": empresa_id, "chaves": json.dumps(list(docs))}
    before = {c: (i, st) for c, i, st in session.execute(_STATE_MY, params).tuples()}
    session.execute(
        _UPSERT_DOCUMENTS_MY,
        {"rows": rows_json_mysql(_DOCS, DOC_COLUMNS, rows), "now": now},
    )
    written: dict[str, int] = {}
    existing: dict[str, int] = {}
    for chave, (doc_id, status) in before.items():
        new_status = docs[chave][0]["status"]
        upgraded = status == "sem_protocolo" and new_status != "sem_protocolo"
        (written if upgraded else existing)[chave] = doc_id
    new = [c for c in docs if c not in before]
    if new:
        q = session.execute(EXISTING_MY, {"emp": empresa_id, "chaves": new})
        written.update(q.tuples().all())
    return written, existing
