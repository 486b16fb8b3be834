"""billing rows updated in place: room on their pages, no index on a debit line's result import

A debit line is written pending and updated once with the bank's result; an invoice is updated when it is paid.
With half of each page left free (fillfactor 50, PostgreSQL) those updates stay on the row's page and touch no
index (a HOT update), provided no indexed column changes: so the index on ``debit_lines.result_import_id``, which
nothing reads by, goes. Pages written before this migration keep their old fill until rewritten.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 23:50:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("debit_lines", "invoices")


def upgrade() -> None:
    with op.batch_alter_table("debit_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_debit_lines_result_import_id"))
    if op.get_bind().dialect.name == "postgresql":
        for table in _TABLES:
            op.execute(f"ALTER TABLE {table} SET (fillfactor = 50)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in _TABLES:
            op.execute(f"ALTER TABLE {table} RESET (fillfactor)")
    with op.batch_alter_table("debit_lines", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_debit_lines_result_import_id"), ["result_import_id"], unique=False)
