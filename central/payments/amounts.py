"""Amounts as the providers write them (yuan with a decimal point) and as we keep them (fen, integers)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation


def yuan_to_fen(text: str) -> int:
    """``"12.50"`` → 1250; a fee written with more decimals (``"0.06000"``) is rounded half up to the fen."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation as err:
        raise ValueError(f"{text!r} is not an amount in yuan") from err
    if not value.is_finite() or abs(value) > Decimal(10) ** 12:
        raise ValueError(f"{text!r} is not an amount in yuan")
    return int((value * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def fen_to_yuan(fen: int) -> str:
    """1250 → ``"12.50"``, as Alipay wants ``total_amount``."""
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"
