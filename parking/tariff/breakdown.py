"""What a quote says: the total due and the itemised lines that explain it, plus the coupons a driver can present."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from parking.money import MoneyError, format_amount, parse_amount
from parking.tariff.errors import CouponError


class QuoteLine(NamedTuple):
    """One line of a quote's breakdown. The line amounts (times ``repeat``) add up to the quote's total.

    ``kind`` is ``stay`` (a piece of the stay in one band and one cycle), ``cycle_cap`` (what a cycle's cap took
    off), ``free_period``, ``lost_card`` (what the lost-card rule added), ``coupon``, ``paid`` or ``grace``.
    ``start``/``end`` are UTC epoch seconds; ``cycle`` counts cycles from 0 (from 1 in JSON and text). For a
    ``stay`` line, ``items`` holds ``(units, unit_minutes, unit_price)`` for each rate line used, ``charged`` their
    sum and ``cap`` the cap that applied (or ``None``).

    A long stay repeats itself: ``repeat`` > 1 says the line stands for that many identical occurrences, each
    ``amount``, starting ``every`` seconds apart; ``start`` is the first one's start and ``end`` the last one's end.
    """

    kind: str
    start: int | None = None
    end: int | None = None
    band: str | None = None
    cycle: int | None = None
    items: tuple[tuple[int, int, int], ...] = ()
    charged: int = 0
    amount: int = 0
    cap: int | None = None
    repeat: int = 1
    every: int = 0
    note: str = ""

    @property
    def seconds(self) -> int:
        """The length of one occurrence of this line's span (0 for a line without a span)."""
        if self.start is None or self.end is None:
            return 0
        return self.end - self.start - self.every * (self.repeat - 1)

    def to_json(self, zone: ZoneInfo, currency: str) -> dict[str, Any]:
        """This line as a JSON-ready dict; times are ISO 8601 in the tariff's zone, amounts integer minor units."""
        out: dict[str, Any] = {"kind": self.kind}
        if self.start is not None:
            out["start"] = datetime.fromtimestamp(self.start, zone).isoformat()
        if self.end is not None:
            out["end"] = datetime.fromtimestamp(self.end, zone).isoformat()
        if self.start is not None and self.end is not None:
            out["seconds"] = self.seconds
        if self.band is not None:
            out["band"] = self.band
        if self.cycle is not None:
            out["cycle"] = self.cycle + 1
        if self.items:
            out["units"] = [
                {"units": n, "unit_minutes": minutes, "unit_price": price, "amount": n * price}
                for n, minutes, price in self.items
            ]
            out["charged"] = self.charged
        if self.cap is not None:
            out["cap_applied"] = self.cap
        if self.repeat != 1:
            out["repeat"] = self.repeat
            out["every_seconds"] = self.every
            out["amount_each"] = self.amount
        out["amount"] = self.amount * self.repeat
        out["display"] = f"{format_amount(self.amount * self.repeat, currency)}"
        if self.note:
            out["note"] = self.note
        return out


@dataclass(frozen=True, slots=True)
class Coupon:
    """A validation: ``minutes`` free (the stay is charged as if it ended that much earlier) or ``amount`` off the
    capped fee (minor units). Neither takes the fee below zero."""

    minutes: int = 0
    amount: int = 0
    code: str = ""

    def __post_init__(self) -> None:
        if self.minutes < 0 or self.amount < 0:
            raise CouponError(f"a coupon cannot be negative (minutes={self.minutes}, amount={self.amount})")

    @classmethod
    def parse(cls, text: str, currency: str) -> Coupon:
        """Parse ``"30min"``, ``"2h"`` (free time) or ``"5.00"`` (amount off, in major units) into a coupon."""
        value = text.strip().lower()
        match = re.fullmatch(r"(\d+)\s*(min|m|h)", value)
        if match:
            minutes = int(match[1]) * (60 if match[2] == "h" else 1)
            return cls(minutes=minutes, code=text)
        try:
            amount = parse_amount(value, currency)
        except MoneyError as err:
            raise CouponError(f"coupon {text!r}: expected free time like 30min or 2h, or an amount like 5.00") from err
        if amount < 0:
            raise CouponError(f"coupon {text!r} is negative")
        return cls(amount=amount, code=text)


class Quote(NamedTuple):
    """What is due now for one stay, and why (immutable).

    ``total`` is what is due now (minor units); ``fee`` the fee of the stay before what was already paid.
    ``tariff_id`` and ``tariff_hash`` (SHA-256 of the tariff file) say which tariff computed it. ``flags`` are for
    the operator: ``max_session_exceeded``, ``lost_card``, ``entry_unknown``, ``free_period``, ``within_grace``.
    """

    total: int
    currency: str
    lines: tuple[QuoteLine, ...]
    tariff_id: str
    tariff_hash: str
    flags: tuple[str, ...]
    vehicle_class: str
    entry: datetime | None
    exit: datetime
    fee: int
    paid: int
    timezone: str

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict: ``total``, ``currency``, ``lines`` and the rest of the quote."""
        zone = ZoneInfo(self.timezone)
        return {
            "total": self.total,
            "total_display": format_amount(self.total, self.currency),
            "currency": self.currency,
            "fee": self.fee,
            "paid": self.paid,
            "vehicle_class": self.vehicle_class,
            "entry": self.entry.astimezone(zone).isoformat() if self.entry is not None else None,
            "exit": self.exit.astimezone(zone).isoformat(),
            "tariff_id": self.tariff_id,
            "tariff_hash": self.tariff_hash,
            "flags": list(self.flags),
            "lines": [line.to_json(zone, self.currency) for line in self.lines],
        }
