"""device faults projection

Revision ID: 0012
Revises: 0009
Create Date: 2026-12-02 00:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "device_faults",
        sa.Column("fault_id", sa.String(length=64), nullable=False),
        sa.Column("edge_id", sa.String(length=64), nullable=False),
        sa.Column("car_park", sa.String(length=64), nullable=False),
        sa.Column("lane", sa.String(length=64), nullable=False),
        sa.Column("device", sa.String(length=64), nullable=False),
        sa.Column("device_kind", sa.String(length=32), nullable=False),
        sa.Column("health", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cleared_id", sa.String(length=64), nullable=True),
        sa.Column("cleared_reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("fault_id"),
    )
    op.create_index("ix_device_faults_car_park_started_at", "device_faults", ["car_park", "started_at"])


def downgrade() -> None:
    op.drop_index("ix_device_faults_car_park_started_at", table_name="device_faults")
    op.drop_table("device_faults")
