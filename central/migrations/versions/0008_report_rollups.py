"""report rollups

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 20:50:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DAILY_KEY = ("car_park", "day", "kind", "outcome", "lane", "method", "operator", "vehicle_class", "category",
              "currency")  # fmt: skip
_HOURLY_KEY = ("car_park", "day", "hour", "kind", "vehicle_class", "currency")


def upgrade() -> None:
    op.create_table(
        "report_daily",
        sa.Column("car_park", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("lane", sa.String(length=64), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("operator", sa.String(length=64), nullable=False),
        sa.Column("vehicle_class", sa.String(length=32), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("due_minor", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(*_DAILY_KEY),
    )
    op.create_table(
        "report_hourly",
        sa.Column("car_park", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("hour", sa.SmallInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("vehicle_class", sa.String(length=32), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(*_HOURLY_KEY),
    )
    exceptions = sa.text("kind IN ('manual_action', 'abnormal_event')")
    with op.batch_alter_table("edge_records", schema=None) as batch_op:
        batch_op.create_index("ix_edge_records_exceptions", ["car_park", "at"], unique=False,
                              postgresql_where=exceptions, sqlite_where=exceptions)  # fmt: skip


def downgrade() -> None:
    with op.batch_alter_table("edge_records", schema=None) as batch_op:
        batch_op.drop_index("ix_edge_records_exceptions")
    op.drop_table("report_hourly")
    op.drop_table("report_daily")
