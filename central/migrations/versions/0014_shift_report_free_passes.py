"""shift reports: the free and special vehicles the lanes let through, by list and category

Revision ID: 0014
Revises: 0010
Create Date: 2026-12-02 00:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0014"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("shift_reports", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("free_passes", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("shift_reports", schema=None) as batch_op:
        batch_op.drop_column("free_passes")
