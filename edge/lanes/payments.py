"""Paying ahead of the exit (a pay station, a QR code in the car park): the fee is settled on the session, so an
unattended exit opens by itself within the tariff's grace minutes.

Pure, like the lanes: :func:`prepay` checks the amount against the quote at ``now``, updates the open session and
returns the records to commit (a ``prepayment`` transaction with the fee breakdown and tariff hash, and the
session's ``paid`` event). Nothing is changed when it refuses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from edge.lanes.actions import Draft
from edge.lanes.fees import FeeQuote, FeeQuoter
from edge.lanes.park import ParkState
from parking.ids import new_id
from parking.money import format_amount
from parking.wire import RecordKind


class PaymentRefusedError(Exception):
    """The payment cannot be taken: no such open session, or less than what is due."""


@dataclass(frozen=True, slots=True)
class Prepayment:
    quote: FeeQuote
    drafts: tuple[Draft, ...]


def quote_session(park: ParkState, fees: FeeQuoter, tariff: str, session_id: str, now: datetime) -> FeeQuote:
    """What the open session owes at ``now`` (for the pay station's screen)."""
    session = park.sessions.get(session_id)
    if session is None:
        raise PaymentRefusedError(f"no open session {session_id}")
    return fees.quote(tariff, session.entry_at, now, session.vehicle_class, paid=session.paid, paid_at=session.paid_at)


def prepay(
    park: ParkState, fees: FeeQuoter, tariff: str, session_id: str, amount: int, now: datetime, *,
    method: str, station: str, operator: str | None = None, extra: Mapping[str, Any] | None = None,
) -> Prepayment:  # fmt: skip
    """Take ``amount`` (minor units) for the session at ``now``; raises :class:`PaymentRefusedError`. ``extra``
    goes into the transaction (an e-payment's provider, order and reference)."""
    quote = quote_session(park, fees, tariff, session_id, now)
    if amount < quote.total:
        short = format_amount(quote.total - amount, quote.currency)
        raise PaymentRefusedError(f"{format_amount(quote.total, quote.currency)} is due; {short} short")
    session = park.sessions[session_id]
    ms = int(now.timestamp() * 1000)
    tx_payload: dict[str, Any] = {
        "transaction_kind": "prepayment", "session": session.id, "plate": session.plate, "reason": "paid ahead",
        "method": method, "station": station, "operator": operator, "tendered": amount, **(extra or {}),
        **quote.to_payload(),
    }  # fmt: skip
    transaction = Draft(new_id(ms), RecordKind.TRANSACTION, None, now, tx_payload)
    session.paid += quote.total
    session.paid_at = now
    paid = {"event": "paid", "session": session.id, "paid": session.paid, "paid_at": now.isoformat(),
            "transaction": transaction.id}  # fmt: skip
    return Prepayment(quote, (transaction, Draft(new_id(ms), RecordKind.SESSION, None, now, paid)))
