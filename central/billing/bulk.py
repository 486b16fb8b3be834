"""Bulk writes for the large billing jobs (a debit run or a result import of 100,000 lines): PostgreSQL's COPY, an
executemany elsewhere (SQLite)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import FromClause, Table, insert
from sqlalchemy.orm import Session


def is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def copy_rows(session: Session, table: str, rows: Sequence[dict[str, Any]]) -> None:
    """COPY ``rows`` (dicts with the same keys) into ``table`` on the session's PostgreSQL connection."""
    if not rows:
        return
    columns = list(rows[0])
    raw = session.connection().connection.driver_connection
    assert raw is not None
    with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([row[name] for name in columns])


def insert_rows(session: Session, table: FromClause, rows: Sequence[dict[str, Any]]) -> None:
    """Insert many rows: COPY on PostgreSQL, an executemany elsewhere."""
    if not rows:
        return
    assert isinstance(table, Table)
    session.flush()
    if is_postgresql(session):
        copy_rows(session, table.name, rows)
    else:
        session.execute(insert(table), list(rows))
