"""reconciliation: money records projection, tariff versions, shift reviews, cash bags

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 20:13:23.997769
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "cash_bags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("car_park", sa.String(length=64), nullable=False),
        sa.Column("bag", sa.String(length=32), nullable=False),
        sa.Column("drop_record", sa.String(length=64), nullable=False),
        sa.Column("shift", sa.String(length=64), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("declared", sa.BigInteger(), nullable=False),
        sa.Column("dropped_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("picked_up_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("picked_up_by", sa.String(length=64), nullable=True),
        sa.Column("witnessed_by", sa.String(length=64), nullable=True),
        sa.Column("counted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("counted_by", sa.String(length=64), nullable=True),
        sa.Column("counted", sa.BigInteger(), nullable=True),
        sa.Column("deposited_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deposited_by", sa.String(length=64), nullable=True),
        sa.Column("deposit_slip", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("car_park", "bag", name="uq_cash_bags_car_park_bag"),
    )
    with op.batch_alter_table("cash_bags", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cash_bags_car_park"), ["car_park"], unique=False)

    op.create_table(
        "money_records",
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("edge_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("car_park", sa.String(length=64), nullable=False),
        sa.Column("lane", sa.String(length=64), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("hash_ok", sa.Boolean(), nullable=False),
        sa.Column("booth", sa.String(length=64), nullable=True),
        sa.Column("shift", sa.String(length=64), nullable=True),
        sa.Column("operator", sa.String(length=64), nullable=True),
        sa.Column("method", sa.String(length=16), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.Column("tendered", sa.BigInteger(), nullable=True),
        sa.Column("change", sa.BigInteger(), nullable=True),
        sa.Column("refunded", sa.BigInteger(), nullable=True),
        sa.Column("quoted", sa.BigInteger(), nullable=True),
        sa.Column("tariff_id", sa.String(length=64), nullable=True),
        sa.Column("tariff_hash", sa.String(length=64), nullable=True),
        sa.Column("quoted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("entry_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("exit_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("vehicle_class", sa.String(length=32), nullable=True),
        sa.Column("lost_card", sa.Boolean(), nullable=False),
        sa.Column("paid_before", sa.BigInteger(), nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("category", sa.String(length=40), nullable=True),
        sa.Column("list_kind", sa.String(length=16), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("reverses", sa.String(length=64), nullable=True),
        sa.Column("for_record", sa.String(length=64), nullable=True),
        sa.Column("plate", sa.String(length=16), nullable=True),
        sa.Column("card", sa.String(length=64), nullable=True),
        sa.Column("session_id", sa.String(length=64), nullable=True),
        sa.Column("session_kind", sa.String(length=16), nullable=True),
        sa.Column("bag", sa.String(length=32), nullable=True),
        sa.Column("detail", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.PrimaryKeyConstraint("record_id"),
    )
    with op.batch_alter_table("money_records", schema=None) as batch_op:
        batch_op.create_index("ix_money_records_car_park_at", ["car_park", "at"], unique=False)
        batch_op.create_index("ix_money_records_edge_seq", ["edge_id", "seq"], unique=False)
        batch_op.create_index("ix_money_records_session", ["session_id"], unique=False)
        batch_op.create_index("ix_money_records_shift", ["shift"], unique=False)

    op.create_table(
        "shift_reviews",
        sa.Column("shift", sa.String(length=64), nullable=False),
        sa.Column("car_park", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("exceptions", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("shift"),
    )
    with op.batch_alter_table("shift_reviews", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_shift_reviews_car_park"), ["car_park"], unique=False)

    op.create_table(
        "tariff_versions",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("tariff_id", sa.String(length=64), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256"),
    )


def downgrade() -> None:

    op.drop_table("tariff_versions")
    with op.batch_alter_table("shift_reviews", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shift_reviews_car_park"))

    op.drop_table("shift_reviews")
    with op.batch_alter_table("money_records", schema=None) as batch_op:
        batch_op.drop_index("ix_money_records_shift")
        batch_op.drop_index("ix_money_records_session")
        batch_op.drop_index("ix_money_records_edge_seq")
        batch_op.drop_index("ix_money_records_car_park_at")

    op.drop_table("money_records")
    with op.batch_alter_table("cash_bags", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cash_bags_car_park"))

    op.drop_table("cash_bags")
