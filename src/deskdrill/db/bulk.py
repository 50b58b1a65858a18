"""Many rows in one statement, without SQLAlchemy's per-row parameter processing.

For the hot paths that write thousands of rows per call (the SLA engine step). Each row is
a tuple of values that already went through the column types' bind processors
(``bind_processor``), so what lands in the database is what the ORM would have written.

- SQLite: the driver's executemany, a loop in C over one prepared statement (and a
  multi-row VALUES list when rows must come back through RETURNING).
- PostgreSQL: one statement per call whatever the number of rows: the rows travel as one
  array per column and ``unnest`` turns them back into rows, so there is one round trip
  and one plan instead of one of each per row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, Dialect, Table
from sqlalchemy.types import TypeEngine

Processor = Callable[[Any], Any]
Row = tuple[Any, ...]

# Multi-row VALUES lists stay well under SQLite's limit of 32,766 parameters per statement.
MAX_PARAMETERS = 20_000


def bind_processor(dialect: Dialect, type_: TypeEngine[Any]) -> Processor:
    """How SQLAlchemy would convert a value of ``type_`` for this driver."""
    found = type_.dialect_impl(dialect).bind_processor(dialect)
    return found if found is not None else _same


def _same(value: Any) -> Any:
    return value


def _arrays(connection: Connection, table: Table, columns: Sequence[str]) -> str:
    """``unnest(%b::type[], ...)`` for PostgreSQL, typed from the table's own columns.

    ``%b``: the arrays travel in PostgreSQL's binary format. Dumping a list as array text
    quotes and escapes every element and formats every datetime, which for a thousand
    rows took longer than the statement itself."""
    dialect = connection.dialect
    casts = (f"%b::{table.c[name].type.compile(dialect=dialect)}[]" for name in columns)
    return f"unnest({', '.join(casts)})"


def _by_column(rows: Sequence[Row], width: int) -> tuple[list[Any], ...]:
    return tuple(list(column) for column in zip(*rows, strict=True)) or ([],) * width


def _insert_sql(
    table: Table, columns: Sequence[str], skip_conflicts_on: Sequence[str]
) -> tuple[str, str]:
    head = f"INSERT INTO {table.name} ({', '.join(columns)})"
    tail = f" ON CONFLICT ({', '.join(skip_conflicts_on)}) DO NOTHING" if skip_conflicts_on else ""
    return head, tail


def insert_rows(
    connection: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Row],
    *,
    skip_conflicts_on: Sequence[str] = (),
) -> int:
    """Insert ``rows`` (tuples in the order of ``columns``); with ``skip_conflicts_on``,
    rows that collide on that unique key are left out. Returns the rows inserted."""
    if not rows:
        return 0
    head, tail = _insert_sql(table, columns, skip_conflicts_on)
    if connection.dialect.name == "postgresql":
        sql = f"{head} SELECT * FROM {_arrays(connection, table, columns)}{tail}"
        return connection.exec_driver_sql(sql, _by_column(rows, len(columns))).rowcount
    group = "(" + ", ".join("?" * len(columns)) + ")"
    return connection.exec_driver_sql(f"{head} VALUES {group}{tail}", list(rows)).rowcount


def insert_returning(
    connection: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Row],
    *,
    skip_conflicts_on: Sequence[str] = (),
    returning: Sequence[str],
) -> list[Row]:
    """``insert_rows``, and the ``returning`` columns of the rows inserted."""
    if not rows:
        return []
    head, tail = _insert_sql(table, columns, skip_conflicts_on)
    tail += f" RETURNING {', '.join(returning)}"
    if connection.dialect.name == "postgresql":
        sql = f"{head} SELECT * FROM {_arrays(connection, table, columns)}{tail}"
        return [
            tuple(row) for row in connection.exec_driver_sql(sql, _by_column(rows, len(columns)))
        ]
    group = "(" + ", ".join("?" * len(columns)) + ")"
    found: list[Row] = []
    per_chunk = max(1, MAX_PARAMETERS // len(columns))
    for start in range(0, len(rows), per_chunk):
        chunk = rows[start : start + per_chunk]
        sql = f"{head} VALUES {', '.join([group] * len(chunk))}{tail}"
        flat = tuple(value for row in chunk for value in row)
        found += [tuple(row) for row in connection.exec_driver_sql(sql, flat)]
    return found


def update_rows(
    connection: Connection,
    table: Table,
    columns: Sequence[str],
    keys: Sequence[str],
    rows: Sequence[Row],
) -> int:
    """Set ``columns`` on the rows matching ``keys``; each row is the new values followed
    by the key values. Returns the rows changed (-1 when the driver cannot tell)."""
    if not rows:
        return 0
    if connection.dialect.name == "postgresql":
        every = [*columns, *keys]
        # The key columns come under other names: a key may be among the columns set.
        names = [*columns, *(f"key_{name}" for name in keys)]
        sets = ", ".join(f"{name} = v.{name}" for name in columns)
        match = " AND ".join(f"t.{name} = v.key_{name}" for name in keys)
        # The first key again as "= ANY(array)": without it the planner may join the rows
        # to a scan of the whole table, a cost that grows with the table, not the rows.
        first = table.c[keys[0]].type.compile(dialect=connection.dialect)
        sql = (
            f"UPDATE {table.name} AS t SET {sets} "
            f"FROM {_arrays(connection, table, every)} AS v({', '.join(names)}) "
            f"WHERE {match} AND t.{keys[0]} = ANY(%b::{first}[])"
        )
        columns_of = _by_column(rows, len(every))
        return connection.exec_driver_sql(sql, (*columns_of, columns_of[len(columns)])).rowcount
    sets = ", ".join(f"{name} = ?" for name in columns)
    match = " AND ".join(f"{name} = ?" for name in keys)
    result = connection.exec_driver_sql(f"UPDATE {table.name} SET {sets} WHERE {match}", list(rows))
    return result.rowcount
