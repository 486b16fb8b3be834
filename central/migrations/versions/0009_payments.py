"""payment orders at unattended exits

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 21:15:34.573860
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "remote_vends",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("car_park_id", sa.String(length=64), nullable=False),
        sa.Column("lane_id", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("evidence", sa.String(length=500), nullable=True),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("journal_record", sa.String(length=64), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["car_park_id"], ["car_parks.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("remote_vends", schema=None) as batch_op:
        batch_op.create_index("ix_remote_vends_park_pending", ["car_park_id", "delivered_at"], unique=False)

    op.create_table(
        "payment_notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("notice_id", sa.String(length=64), nullable=True),
        sa.Column("order_id", sa.String(length=32), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("payment_notifications", schema=None) as batch_op:
        batch_op.create_index("ix_payment_notifications_provider_notice", ["provider", "notice_id"], unique=False)

    op.create_table(
        "payment_statement_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("provider_trade_no", sa.String(length=64), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("fee", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("difference", sa.String(length=48), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("imported_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("payment_statement_lines", schema=None) as batch_op:
        batch_op.create_index("ix_payment_statement_lines_day", ["provider", "day"], unique=False)

    op.create_table(
        "exit_quotes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("car_park_id", sa.String(length=64), nullable=False),
        sa.Column("lane_id", sa.String(length=64), nullable=True),
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("plate", sa.String(length=16), nullable=False),
        sa.Column("entry_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("quoted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tariff_id", sa.String(length=64), nullable=False),
        sa.Column("tariff_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "lines", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("paid_before", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["car_park_id"], ["car_parks.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("exit_quotes", schema=None) as batch_op:
        batch_op.create_index("ix_exit_quotes_lane", ["car_park_id", "lane_id", "received_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_exit_quotes_session_id"), ["session_id"], unique=False)

    op.create_table(
        "payment_orders",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("request_key", sa.String(length=64), nullable=False),
        sa.Column("car_park_id", sa.String(length=64), nullable=False),
        sa.Column("lane_id", sa.String(length=64), nullable=True),
        sa.Column("quote_id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("plate", sa.String(length=16), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("tariff_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "lines", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column(
            "checkout", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("provider_trade_no", sa.String(length=64), nullable=True),
        sa.Column("payer_total", sa.BigInteger(), nullable=True),
        sa.Column("refunded", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["car_park_id"], ["car_parks.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["quote_id"], ["exit_quotes.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("provider_trade_no"),
        sa.UniqueConstraint("request_key"),
    )
    with op.batch_alter_table("payment_orders", schema=None) as batch_op:
        batch_op.create_index("ix_payment_orders_park_day", ["car_park_id", "paid_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_payment_orders_session_id"), ["session_id"], unique=False)

    op.create_table(
        "payment_settlements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.String(length=32), nullable=False),
        sa.Column("car_park_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=64), nullable=True),
        sa.Column("journal_record", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["order_id"], ["payment_orders.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("order_id"),
    )
    with op.batch_alter_table("payment_settlements", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payment_settlements_car_park_id"), ["car_park_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("remote_vends", schema=None) as batch_op:
        batch_op.drop_index("ix_remote_vends_park_pending")
    op.drop_table("remote_vends")

    with op.batch_alter_table("payment_settlements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_settlements_car_park_id"))

    op.drop_table("payment_settlements")
    with op.batch_alter_table("payment_orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_orders_session_id"))
        batch_op.drop_index("ix_payment_orders_park_day")

    op.drop_table("payment_orders")
    with op.batch_alter_table("exit_quotes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exit_quotes_session_id"))
        batch_op.drop_index("ix_exit_quotes_lane")

    op.drop_table("exit_quotes")
    with op.batch_alter_table("payment_statement_lines", schema=None) as batch_op:
        batch_op.drop_index("ix_payment_statement_lines_day")

    op.drop_table("payment_statement_lines")
    with op.batch_alter_table("payment_notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_payment_notifications_provider_notice")

    op.drop_table("payment_notifications")
