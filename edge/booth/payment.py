"""How a fee is settled at the booth, and the error every refused booth command raises."""

from __future__ import annotations

from typing import Literal

Method = Literal["cash", "epay", "bank_card"]  # cash; QR / e-payment (WeChat Pay, Alipay...); bank card


class ShiftError(Exception):
    """A command the shift cannot take in its state or with that input; ``code`` is stable for the console."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(f"{code}: {message}")


def settle(amount: int, method: str, tendered: int | None, reference: str | None) -> tuple[int, int]:
    """(tendered, change) for a fee of ``amount``: cash gives change from what was tendered (the amount itself
    when not given), an e-payment needs its reference, other methods tender exactly the amount."""
    if method == "cash":
        tendered = amount if tendered is None else tendered
        if tendered < amount:
            raise ShiftError("payment.short", f"tendered {tendered} is less than the {amount} due")
        return tendered, tendered - amount
    if method == "epay" and not (reference or "").strip():
        raise ShiftError("payment.reference_required", "an e-payment needs its reference")
    if method not in ("epay", "bank_card"):
        raise ShiftError("payment.bad_method", f"unknown payment method {method!r}")
    return amount, 0
