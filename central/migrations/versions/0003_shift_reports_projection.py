"""shift reports projection

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 04:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "shift_reports",
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("edge_id", sa.String(length=64), nullable=False),
        sa.Column("car_park", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("shift", sa.String(length=64), nullable=True),
        sa.Column("booth", sa.String(length=64), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=True),
        sa.Column("operator", sa.String(length=64), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("takings", sa.BigInteger(), nullable=True),
        sa.Column("cash_expected", sa.BigInteger(), nullable=True),
        sa.Column("cash_counted", sa.BigInteger(), nullable=True),
        sa.Column("cash_difference", sa.BigInteger(), nullable=True),
        sa.Column("cards_difference", sa.BigInteger(), nullable=True),
        sa.Column("unexplained_cycles", sa.BigInteger(), nullable=True),
        sa.Column("valid", sa.Boolean(), nullable=False),
        sa.Column("problem", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["record_id"], ["edge_records.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("record_id"),
    )
    with op.batch_alter_table("shift_reports", schema=None) as batch_op:
        batch_op.create_index("ix_shift_reports_car_park_at", ["car_park", "at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("shift_reports", schema=None) as batch_op:
        batch_op.drop_index("ix_shift_reports_car_park_at")

    op.drop_table("shift_reports")
