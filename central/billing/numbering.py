"""Gap-free numbers per series, scope and year (invoices per car park and year, receipts, bags, debit batches).

The counter row is read ``FOR UPDATE`` (PostgreSQL holds the row lock until the transaction ends; SQLite has one
writer at a time anyway), so two cashiers never get the same number and a rolled-back transaction gives its number
back: numbers have no gaps.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from central.models import NumberCounter


def take_numbers(session: Session, series: str, scope: str, year: int, count: int = 1) -> int:
    """Reserve ``count`` consecutive numbers; answers the first (the last is ``first + count - 1``)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(
        insert(NumberCounter).values(series=series, scope=scope, year=year, last=0).on_conflict_do_nothing()
    )
    counter = session.scalars(
        select(NumberCounter)
        .where(NumberCounter.series == series, NumberCounter.scope == scope, NumberCounter.year == year)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    first = counter.last + 1
    counter.last += count
    session.flush()
    return first


def scope_label(scope: str) -> str:
    """The scope as it appears in a number: upper case, ``ALL`` for every car park."""
    return "ALL" if scope == "*" else scope.upper()
