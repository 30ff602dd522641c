"""The MySQL/MariaDB statements of :mod:`app.obligations.tarefas`.

PostgreSQL expands column arrays with ``unnest`` and counts inserts with ``RETURNING``; here the
rows travel as one JSON document expanded by ``JSON_TABLE`` (MySQL 8, MariaDB 10.6), the keys
already present are read first (MySQL 8 has no ``RETURNING``), and a ``DELETE … RETURNING``
becomes a locking read of the same rows followed by the delete.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

__all__ = ["delete_open_mysql", "flush_mysql", "update_statuses_mysql"]

_ROWS = (
    "JSON_TABLE(:rows, '$[*]' COLUMNS (e BIGINT PATH '$.e', o BIGINT PATH '$.o', "
    "c VARCHAR(7) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin PATH '$.c', d DATE PATH '$.d', "
    "t DATE PATH '$.t', dep VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin PATH '$.dep', "
    "r BIGINT PATH '$.r')) AS u"
)
_PRESENT = text(
    f"SELECT x.empresa_id, x.obligation_id, x.competencia FROM tarefas x JOIN {_ROWS} "
    "ON x.empresa_id = u.e AND x.obligation_id = u.o AND x.competencia = u.c"
)
_INSERT = text(
    "INSERT INTO tarefas (empresa_id, obligation_id, competencia, due_date, target_date, "
    "status, department, responsible_staff_id, late_business_days, fine_risk) "
    # A responsible who no longer exists leaves the tarefa unassigned (never fails the chunk).
    "SELECT u.e, u.o, u.c, u.d, u.t, 'aberta', u.dep, (SELECT s.id FROM staff s WHERE s.id = u.r), "
    f"0, false FROM {_ROWS} ON DUPLICATE KEY UPDATE id = tarefas.id"
)
_UPDATE = text(
    "UPDATE tarefas t JOIN JSON_TABLE(:rows, '$[*]' COLUMNS (id BIGINT PATH '$.id', "
    "s VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin PATH '$.s', l INT PATH '$.l')) AS u "
    "ON t.id = u.id SET t.status = u.s, t.late_business_days = u.l, "
    "t.fine_risk = (u.s = 'vencida'), t.updated_at = CURRENT_TIMESTAMP(6)"
)
_OPEN = (
    "FROM tarefas WHERE empresa_id = :e AND obligation_id IN :o AND competencia >= :c "
    "AND status IN ('aberta', 'a_vencer', 'vencida') AND completed_at IS NULL"
)


def _dump(rows: list[dict[str, Any]]) -> str:
    return json.dumps(rows, default=lambda v: v.isoformat() if isinstance(v, date) else str(v))


def flush_mysql(session: Session, cols: dict[str, list[Any]]) -> int:
    """Insert the tarefas in ``cols`` (column lists e, o, c, d, t, dep, r) that are missing;
    returns how many were inserted."""
    names = list(cols)
    rows = [dict(zip(names, values, strict=True)) for values in zip(*cols.values(), strict=True)]
    unique = {(r["e"], r["o"], r["c"]): r for r in rows}
    present = set(session.execute(_PRESENT, {"rows": _dump(list(unique.values()))}).tuples())
    new = [r for k, r in unique.items() if k not in present]
    if new:  # a re-run inserts nothing: skip the statement
        session.execute(_INSERT, {"rows": _dump(new)})
    return len(new)


def update_statuses_mysql(session: Session, upd: dict[str, list[Any]]) -> None:
    """Set status / late_business_days (column lists id, s, l) by id."""
    rows = [
        {"id": i, "s": s, "l": n} for i, s, n in zip(upd["id"], upd["s"], upd["l"], strict=True)
    ]
    session.execute(_UPDATE, {"rows": _dump(rows)})


def delete_open_mysql(
    session: Session, *, empresa_id: int, obligation_ids: list[int], competencia: str
) -> list[tuple[int, str]]:
    """Delete the untouched open tarefas; returns their (obligation_id, competencia)."""
    params = {"e": empresa_id, "o": obligation_ids, "c": competencia}
    select_ = text(f"SELECT obligation_id, competencia {_OPEN} FOR UPDATE").bindparams(
        bindparam("o", expanding=True)
    )
    removed = [(int(o), str(c)) for o, c in session.execute(select_, params).tuples()]
    if removed:
        delete = text(f"DELETE {_OPEN}").bindparams(bindparam("o", expanding=True))
        session.execute(delete, params)
    return removed
