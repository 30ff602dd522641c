"""Dialect helpers: one call, a PostgreSQL spelling and a MySQL/MariaDB spelling (issue 20).

The services write PostgreSQL first (``ON CONFLICT``, ``RETURNING``, ``json_to_recordset``,
advisory locks) and keep that path exactly as fast as before; MySQL 8.0 and MariaDB ≥ 10.6 get
an equivalent here with the same results. The MySQL spellings never use ``RETURNING`` (MySQL 8
has none, and neither database has ``UPDATE … RETURNING``), so one path serves both servers:

- insert-or-ignore (``ON CONFLICT DO NOTHING RETURNING``) → ``INSERT … ON DUPLICATE KEY UPDATE
  pk = pk`` row by row, the new rows told by ``LAST_INSERT_ID`` (0 when the key existed);
  never ``INSERT IGNORE``, which also turns strict-mode errors into warnings;
- upsert (``ON CONFLICT DO UPDATE … WHERE``) → ``ON DUPLICATE KEY UPDATE c = IF(cond, new, c)``,
  the condition's own columns assigned last (MySQL assigns left to right);
- a JSON array parameter expanded as rows → ``JSON_TABLE`` (MySQL 8, MariaDB 10.6);
- ``pg_advisory_lock`` → ``GET_LOCK``/``RELEASE_LOCK`` on the same connection.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Table, func, select, text, tuple_
from sqlalchemy.dialects import mysql, postgresql
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

__all__ = [
    "advisory_lock",
    "insert_ignore",
    "insert_many_ignore",
    "insert_new",
    "is_mysql",
    "mysql_ids",
    "mysql_texts",
    "skip_locked",
    "upsert",
]

Bind = Session | Connection


def is_mysql(bind: Bind) -> bool:
    """True when ``bind`` talks to MySQL or MariaDB."""
    engine = bind.get_bind() if isinstance(bind, Session) else bind
    return engine.dialect.name in ("mysql", "mariadb")


def _table(model: Any) -> Table:
    return model if isinstance(model, Table) else model.__table__  # type: ignore[no-any-return]


def insert_ignore(
    session: Session,
    model: Any,
    rows: Sequence[Mapping[str, Any]],
    *,
    index_elements: Sequence[str],
    returning: Sequence[Any] = (),
) -> list[Any]:
    """Insert the rows whose ``index_elements`` key is new; the ``returning`` columns of the rows
    inserted (in insert order), or their primary keys when ``returning`` is empty."""
    if not rows:
        return []
    table = _table(model)
    pk = next(iter(table.primary_key.columns))
    cols = list(returning) or [pk]
    if not is_mysql(session):
        pg = (
            postgresql.insert(table)
            .values(list(rows))
            .on_conflict_do_nothing(index_elements=list(index_elements))
            .returning(*cols)
        )
        return list(session.execute(pg).all())
    ids: list[int] = []
    for row in rows:
        # pk = pk: a duplicate changes nothing and leaves LAST_INSERT_ID at 0
        stmt = mysql.insert(table).values(**row).on_duplicate_key_update({pk.name: pk})
        new_id = session.execute(stmt).lastrowid  # type: ignore[attr-defined]
        if new_id:
            ids.append(int(new_id))
    if not ids:
        return []
    if [c.key for c in cols] == [pk.key]:
        return [(i,) for i in ids]
    got = {r[-1]: r[:-1] for r in session.execute(select(*cols, pk).where(pk.in_(ids))).all()}
    return [got[i] for i in ids if i in got]


def insert_many_ignore(
    session: Session,
    model: Any,
    rows: Sequence[Mapping[str, Any]],
    *,
    index_elements: Sequence[str],
) -> None:
    """Insert the rows whose ``index_elements`` key is new, in one statement (nothing returned)."""
    if not rows:
        return
    table = _table(model)
    if not is_mysql(session):
        pg = postgresql.insert(table).values(list(rows))
        session.execute(pg.on_conflict_do_nothing(index_elements=list(index_elements)))
        return
    _insert_many_mysql(session, table, rows)


def _insert_many_mysql(session: Session, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    # executemany: PyMySQL sends it as multi-row INSERTs (a multi-VALUES construct would cost
    # SQLAlchemy ~1 s of compilation per 10,000 rows)
    pk = next(iter(table.primary_key.columns))
    stmt = mysql.insert(table).on_duplicate_key_update({pk.name: pk})
    for start in range(0, len(rows), 5000):
        session.execute(stmt, list(rows[start : start + 5000]))


def insert_new(
    session: Session,
    model: Any,
    rows: Sequence[Mapping[str, Any]],
    *,
    index_elements: Sequence[str],
    returning: Sequence[Any],
) -> list[Any]:
    """Like :func:`insert_ignore` for many rows: on MySQL the keys present are read first, the
    others inserted in bulk and read back (a row a concurrent transaction inserts between the
    two is reported as new here too: use it where that is harmless, e.g. an idempotent follow-up
    keyed by the row's id)."""
    if not rows or not is_mysql(session):
        return insert_ignore(
            session, model, rows, index_elements=index_elements, returning=returning
        )
    table = _table(model)
    cols = [table.c[c] for c in index_elements]
    keys = {tuple(r[c] for c in index_elements) for r in rows}
    present = set(session.execute(select(*cols).where(tuple_(*cols).in_(keys))).tuples())
    new = [r for r in rows if tuple(r[c] for c in index_elements) not in present]
    if not new:
        return []
    _insert_many_mysql(session, table, new)
    wanted = [tuple(r[c] for c in index_elements) for r in new]
    got = session.execute(select(*returning, *cols).where(tuple_(*cols).in_(wanted))).all()
    n = len(returning)
    by_key = {tuple(r[n:]): tuple(r[:n]) for r in got}
    return [by_key[k] for k in dict.fromkeys(wanted) if k in by_key]


def upsert(
    session: Session,
    model: Any,
    rows: Sequence[Mapping[str, Any]],
    *,
    index_elements: Sequence[str],
    set_: Callable[[Any], Sequence[tuple[str, Any]]],
    where: ColumnElement[bool] | None = None,
) -> None:
    """Insert the rows, or update the existing ones (same ``index_elements`` key) with
    ``set_(new)`` — ``new`` is the proposed row (``EXCLUDED`` / ``VALUES()``) — only where
    ``where`` (over the existing row) holds. Columns ``where`` reads must come last in
    ``set_`` (MySQL assigns left to right and reads the already-assigned values)."""
    if not rows:
        return
    table = _table(model)
    if not is_mysql(session):
        pg = postgresql.insert(table).values(list(rows))
        session.execute(
            pg.on_conflict_do_update(
                index_elements=list(index_elements), set_=dict(set_(pg.excluded)), where=where
            )
        )
        return
    my = mysql.insert(table).values(list(rows))
    pairs = list(set_(my.inserted))
    if where is not None:
        pairs = [(c, func.IF(where, v, table.c[c])) for c, v in pairs]
    session.execute(my.on_duplicate_key_update(pairs))


def skip_locked(session: Session, query: Any, *order_by: Any, of: Any = None) -> Any:
    """``query … ORDER BY order_by FOR UPDATE SKIP LOCKED``; on MySQL/MariaDB without the ORDER
    BY (the caller sorts the rows): MariaDB 10.11 returns no row at all when a filesort meets a
    row another transaction holds (seen with two outbox workers), instead of skipping it."""
    if not is_mysql(session):
        query = query.order_by(*order_by)
    return query.with_for_update(skip_locked=True, of=of)


def mysql_ids(param: str) -> str:
    """``(SELECT v FROM JSON_TABLE(:param …))``: the integers of a JSON array parameter."""
    return f"(SELECT v FROM JSON_TABLE(:{param}, '$[*]' COLUMNS (v BIGINT PATH '$')) AS jt)"


def mysql_texts(param: str, length: int = 255) -> str:
    """Like :func:`mysql_ids` for strings, compared with the schema's binary collation."""
    return (
        f"(SELECT v FROM JSON_TABLE(:{param}, '$[*]' COLUMNS (v VARCHAR({length}) "
        "CHARACTER SET utf8mb4 COLLATE utf8mb4_bin PATH '$')) AS jt)"
    )


@contextmanager
def advisory_lock(conn: Connection, key: int, *, timeout_s: int = 24 * 3600) -> Iterator[None]:
    """Hold a session-level named lock on ``conn`` (waits while another holder has it).

    PostgreSQL ``pg_advisory_lock(key)``; MySQL ``GET_LOCK('contab:<key>', timeout)``, which is
    released on the same connection (or when it closes)."""
    if is_mysql(conn):
        name = f"contab:{key}"
        got = conn.execute(text("SELECT GET_LOCK(:n, :t)"), {"n": name, "t": timeout_s}).scalar()
        if got != 1:
            raise TimeoutError(f"lock {name} not acquired")
        try:
            yield
        finally:
            conn.execute(text("SELECT RELEASE_LOCK(:n)"), {"n": name})
        return
    conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
    try:
        yield
    finally:
        conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
