"""Queries the services share: locks, accumulators, loading a member's registry.

Services flush; only the unit of work (api/deps.py, cli) commits.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import bindparam, exc, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from claims.decision import AccumulatorChange
from store import models

# Any constant will do: it names the advisory lock that keeps re-adjudication runs one at a time.
_READJUDICATION_LOCK_KEY = 0x636C61696D74


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


_BUILT: dict[tuple[Callable[..., Any], str], Any] = {}


def prebuilt(session: Session, build: Callable[[str], Any]) -> Any:
    """The statement ``build(dialect name)`` makes, made once per dialect and process.

    Why: SQLAlchemy derives a statement's cache key from the statement object and keeps
    it there, so a statement built again for each request is walked again each time
    (for an upsert, building and walking cost more than running it: 0.40 ms against
    0.18 ms of the worker's CPU on PostgreSQL). Statements named here take every value
    as a bound parameter (``bindparam``, expanding for lists); they hold no data.
    """
    name = session.get_bind().dialect.name
    found = _BUILT.get((build, name))
    if found is None:
        found = _BUILT[(build, name)] = build(name)
    return found


def lock_members(session: Session, member_ids: Iterable[str]) -> dict[str, models.Member]:
    """The members' rows by id (the unknown ones missing), locked until the transaction ends.

    Every change to a member's accumulators happens under this lock, so two claims of
    one member are decided one after the other, each seeing the other's totals. Rows
    are locked in id order, so two transactions locking several members never wait for
    each other in a circle. On SQLite the transaction already holds the database write
    lock (BEGIN IMMEDIATE).
    """
    return {m.id: m for m in session.scalars(prebuilt(session, _members_locked), {"ids": sorted(set(member_ids))})}


def _members_locked(dialect: str):
    query = select(models.Member).where(models.Member.id.in_(bindparam("ids", expanding=True))).order_by(models.Member.id)
    return query.with_for_update() if dialect == "postgresql" else query


def paginate(session: Session, query, order, page: int, page_size: int, *options) -> tuple[list, int]:
    """One page of a query's rows (in ``order``) and how many rows there are in all."""
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(order).offset((page - 1) * page_size).limit(page_size).options(*options))
    return list(rows), total


def try_lock_readjudication(session: Session) -> bool:
    """Hold the re-adjudication lock until the transaction ends; False when another run holds it.

    On SQLite the transaction's write lock (BEGIN IMMEDIATE) already runs whole
    transactions one at a time: a second run starts once the first has committed.
    """
    if is_postgres(session):
        return bool(session.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"),
                                   {"key": _READJUDICATION_LOCK_KEY}))
    return True


def apply_members_changes(session: Session, changes: Iterable[tuple[str, AccumulatorChange]]) -> None:
    """Add the (member, change) pairs to their accumulator rows (made on first use), in one statement.

    ``INSERT ... ON CONFLICT DO UPDATE`` (PostgreSQL and SQLite alike) adds each delta
    to the stored value in the database, so the row is never read and rewritten.
    """
    net: dict[tuple[str, str, str, str], int] = {}
    for member_id, c in changes:
        key = (member_id, c.benefit, c.measure, c.scope)
        net[key] = net.get(key, 0) + c.delta  # one row per key: a statement may not touch a row twice
    if not net:
        return
    statement = prebuilt(session, _add_to_accumulators)
    # One statement text whatever the number of rows (compiled once, then cached), sent
    # as a batch; sorted, so two transactions upserting rows of the same members take
    # the row locks in one order.
    session.execute(statement, [
        {"member_id": member_id, "benefit": b, "measure": m, "scope": s, "value": delta}
        for (member_id, b, m, s), delta in sorted(net.items())
    ])


def _add_to_accumulators(dialect: str):
    table = models.Accumulator.__table__
    statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    return statement.on_conflict_do_update(
        index_elements=["member_id", "benefit", "measure", "scope"],
        set_={"value": table.c.value + statement.excluded.value},
    )


def insert_many(session: Session, table, columns: tuple[str, ...], rows: list[tuple], *,
                pause: Callable[[int], None] | None = None, chunk: int = 100) -> None:
    """Insert ``rows`` (tuples of ``columns``) in the session's transaction, in bulk.

    PostgreSQL: one ``COPY``, whose rows psycopg formats in C. SQLite: the driver's
    executemany in chunks, each value converted as SQLAlchemy stores it (dates as ISO
    text), once per distinct value; the driver steps through the rows in C. ``pause(i)``
    is called as rows go by (a long import lets the worker's other requests run).
    """
    if not rows:
        return
    connection = session.connection()
    quote = connection.dialect.identifier_preparer.quote
    names = ", ".join(quote(c) for c in columns)
    if is_postgres(session):
        import psycopg

        statement = f"COPY {quote(table.name)} ({names}) FROM STDIN"
        try:
            with connection.connection.driver_connection.cursor() as cursor:
                with cursor.copy(statement) as copy:
                    for i, row in enumerate(rows):
                        if pause is not None:
                            pause(i)
                        copy.write_row(row)
        except psycopg.IntegrityError as err:
            # As an INSERT would have raised it: callers catch SQLAlchemy's error, whatever the statement.
            raise exc.IntegrityError(statement, None, err) from err
        return
    processors = [table.c[c].type.bind_processor(connection.dialect) for c in columns]
    # Only the columns whose type converts (dates, times) are touched, each distinct value once.
    converting = [(i, p) for i, p in enumerate(processors) if p is not None]
    converted: dict[object, object] = {}

    def stored(process, value):
        if value is None:
            return value
        if value not in converted:
            converted[value] = process(value)
        return converted[value]

    def as_stored(row: tuple) -> tuple:
        values = list(row)
        for i, process in converting:
            values[i] = stored(process, values[i])
        return tuple(values)

    sql = f"INSERT INTO {quote(table.name)} ({names}) VALUES ({', '.join('?' * len(columns))})"
    for i in range(0, len(rows), chunk):
        if pause is not None:
            pause(i)
        part = rows[i:i + chunk]
        connection.exec_driver_sql(sql, [as_stored(row) for row in part] if converting else part)


def insert_rows(session: Session, table, rows: list[dict]) -> None:
    """``insert_many`` for rows given as dicts of the same columns."""
    if rows:
        columns = tuple(rows[0])
        insert_many(session, table, columns, [tuple(row[c] for c in columns) for row in rows])


def next_ids(session: Session, table, n: int) -> list[int] | None:
    """``n`` ids drawn from the table's id sequence (PostgreSQL), so rows go in by ``COPY`` with their
    ids known; None on SQLite, whose callers insert with ``RETURNING`` (fast there)."""
    if not is_postgres(session) or n == 0:
        return None
    return list(session.scalars(text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"),
                                {"table": table.name, "n": n}))


def update_rows(session: Session, table, rows: list[dict]) -> None:
    """Set columns of many rows by id (each dict: ``id`` and the same other columns), in bulk.

    PostgreSQL: the values go by ``COPY`` into a temporary table and one ``UPDATE ... FROM``
    sets them all (an executemany is a statement a row). SQLite: the driver's executemany.
    """
    if not rows:
        return
    columns = [c for c in rows[0] if c != "id"]
    if not is_postgres(session):
        from sqlalchemy import bindparam, update

        session.execute(update(table).where(table.c.id == bindparam("_id")).values(
            {c: bindparam(c) for c in columns}), [{"_id": r["id"], **{c: r[c] for c in columns}} for r in rows])
        return
    connection = session.connection()
    quote = connection.dialect.identifier_preparer.quote
    names = ["id", *columns]
    # Named by the columns it holds; gone at the end of the transaction.
    scratch = f"_set_{table.name}_{hashlib.sha1(' '.join(names).encode()).hexdigest()[:8]}"
    session.execute(text(f"CREATE TEMPORARY TABLE IF NOT EXISTS {scratch} ON COMMIT DROP AS SELECT "
                         f"{', '.join(quote(c) for c in names)} FROM {quote(table.name)} WITH NO DATA"))
    session.execute(text(f"TRUNCATE {scratch}"))
    with connection.connection.driver_connection.cursor() as cursor:
        with cursor.copy(f"COPY {scratch} ({', '.join(quote(c) for c in names)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([row[c] for c in names])
    assignments = ", ".join(f"{quote(c)} = s.{quote(c)}" for c in columns)
    session.execute(text(f"UPDATE {quote(table.name)} AS t SET {assignments} FROM {scratch} AS s WHERE t.id = s.id"))
