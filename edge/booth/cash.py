"""Cash counted by denomination: the notes and coins a booth handles, per currency."""

from __future__ import annotations

from collections.abc import Mapping

from parking.money import format_amount, minor_digits
from parking.shift_report import CashCount as CashCount  # the model is shared with central
from parking.shift_report import CountLine as CountLine

# Notes and coins in circulation a booth counts, in minor units, largest first. CNY: 100, 50, 20, 10, 5, 1 yuan,
# 5 jiao, 1 jiao (the 2-yuan note and the fen coins are out of everyday use and a booth does not stock them).
DENOMINATIONS: dict[str, tuple[int, ...]] = {
    "CNY": (10000, 5000, 2000, 1000, 500, 100, 50, 10),
    "HKD": (100000, 50000, 10000, 5000, 2000, 1000, 500, 200, 100, 50, 20, 10),
    "EUR": (50000, 20000, 10000, 5000, 2000, 1000, 500, 200, 100, 50, 20, 10, 5, 2, 1),
    "USD": (10000, 5000, 2000, 1000, 500, 100, 25, 10, 5, 1),
    "GBP": (5000, 2000, 1000, 500, 200, 100, 50, 20, 10, 5, 2, 1),
}


MAX_PIECES = 100_000  # notes or coins of one denomination in one count


class CashCountError(ValueError):
    """A count that is not a count: an unknown denomination, a negative number, an unsupported currency."""


def denominations(currency: str) -> tuple[int, ...]:
    """The denominations a booth counts in ``currency``."""
    try:
        return DENOMINATIONS[currency]
    except KeyError:
        raise CashCountError(f"no denominations configured for {currency!r}") from None


def count_cash(counts: Mapping[int, int], currency: str) -> CashCount:
    """Check a count keyed by denomination (minor units) and make it a :class:`CashCount`.

    Every configured denomination appears in the result (zero where not given), so a report shows the full table.
    """
    minor_digits(currency)
    allowed = denominations(currency)
    for denomination, count in counts.items():
        if denomination not in allowed:
            shown = format_amount(denomination, currency) if isinstance(denomination, int) else repr(denomination)
            raise CashCountError(f"{shown} is not a {currency} denomination the booth counts")
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise CashCountError(f"count {count!r} for {format_amount(denomination, currency)} is not a count")
        if count > MAX_PIECES:
            raise CashCountError(f"{count} × {format_amount(denomination, currency)} is more than a booth ever counts")
    return CashCount(currency=currency, lines=[CountLine(denomination=d, count=counts.get(d, 0)) for d in allowed])
