"""tariff releases: every published version of a tariff, with the time it takes effect

A tariff published before this revision was stored as one text per tariff and never quoted at a lane: it is kept
in ``tariffs`` as it was; publish it again to give it a version the lanes use.

Revision ID: 0015
Revises: 0012
Create Date: 2026-12-02 00:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tariff_releases",
        sa.Column("id", sa.String(length=80), nullable=False),
        sa.Column("tariff_id", sa.String(length=64), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("effective_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("car_parks", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("published_by", sa.String(length=64), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tariff_id", "number"),
    )
    with op.batch_alter_table("tariff_releases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tariff_releases_tariff_id"), ["tariff_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tariff_releases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tariff_releases_tariff_id"))
    op.drop_table("tariff_releases")
