"""Projecting ``transaction`` journal records into ``edge_transactions``, the typed table billing and reconciliation
query. Both spellings below (SQL for PostgreSQL, Python elsewhere) read a payload the same way: a field missing or
of the wrong type becomes empty, and the record itself stays in ``edge_records`` exactly as the edge sent it."""

from __future__ import annotations

from typing import Any

# Runs inside the ingest transaction: the rows just copied into ``incoming_records`` are stored in ``edge_records``
# (those whose id is new) and projected in the same statement, from what the first step answers; the statement
# answers the ids stored.
STORE_INCOMING = """
WITH moved AS (
    INSERT INTO edge_records ({columns}) SELECT {columns} FROM incoming_records
    ON CONFLICT (id) DO NOTHING RETURNING id, edge_id, kind, car_park, lane, at, payload
), projected AS (
    INSERT INTO edge_transactions
        (record_id, edge_id, car_park, lane, at, transaction_kind, amount_minor, currency, session_id, plate)
    SELECT id, edge_id, car_park, lane, at,
        CASE WHEN jsonb_typeof(payload->'transaction_kind') = 'string' THEN left(payload->>'transaction_kind', 32)
            ELSE '' END,
        CASE WHEN jsonb_typeof(payload->'amount') = 'number' AND payload->>'amount' ~ '^-?[0-9]{{1,18}}$'
            THEN (payload->>'amount')::bigint END,
        CASE WHEN jsonb_typeof(payload->'currency') = 'string' THEN left(payload->>'currency', 3) ELSE '' END,
        CASE WHEN jsonb_typeof(payload->'session') = 'string' THEN left(payload->>'session', 64) END,
        CASE WHEN jsonb_typeof(payload->'plate') = 'string' THEN left(payload->>'plate', 16) END
    FROM moved
    WHERE kind = 'transaction'
    ON CONFLICT (record_id) DO NOTHING
)
SELECT id FROM moved
"""


def _text(payload: dict[str, Any], key: str, length: int) -> str | None:
    value = payload.get(key)
    return value[:length] if isinstance(value, str) else None


def transaction_row(record: dict[str, Any]) -> dict[str, Any]:
    """The ``edge_transactions`` row of one stored ``transaction`` record (as the ingest rows are built)."""
    payload: dict[str, Any] = record["payload"]
    amount = payload.get("amount")
    valid_amount = isinstance(amount, int) and not isinstance(amount, bool) and abs(amount) < 10**18
    return {
        "record_id": record["id"], "edge_id": record["edge_id"], "car_park": record["car_park"],
        "lane": record["lane"], "at": record["at"],
        "transaction_kind": _text(payload, "transaction_kind", 32) or "",
        "amount_minor": amount if valid_amount else None, "currency": _text(payload, "currency", 3) or "",
        "session_id": _text(payload, "session", 64), "plate": _text(payload, "plate", 16),
    }  # fmt: skip
