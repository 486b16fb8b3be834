"""Amounts in Chinese capital numerals (中文大写金额), as written on an internal payment slip (内部缴款单).

The rules are those of the People's Bank of China for filling in bills and settlement vouchers (《支付结算办法》,
附件一 "正确填写票据和结算凭证的基本规定"), with one fixed choice wherever they allow two:

* digits 零壹贰叁肆伍陆柒捌玖, places 拾佰仟 within a group of four, groups 万 and 亿 (up to 9999亿, far
  beyond any slip), then 元角分;
  a ten is always 壹拾 (壹拾伍元, never 拾伍元);
* 整 follows 元 when there are no 角 or 分, and follows 角 when there is no 分 (the bank rule allows it there,
  the accounting rule 《会计基础工作规范》 asks for it); never after 分;
* every run of zeros between two non-zero digits is written as one 零, however long it is and whether it
  crosses 万, 亿 or 元 (陆仟零柒元, 壹万零壹拾元, 壹佰元零伍分, 壹仟陆佰捌拾元零叁角贰分); the bank rule requires
  it after 元 when 角 is zero and 分 is not, and allows it (our fixed choice) where the 万 or 元 place is zero;
  a zero never stands before a unit such as 元/万/亿, nor at the start, nor at the end;
* an amount below one yuan starts at its first non-zero unit (伍角整, 伍分); nothing at all is 零元整.
"""

from __future__ import annotations

from parking.money import minor_digits

DIGITS = "零壹贰叁肆伍陆柒捌玖"
PLACES = ("", "拾", "佰", "仟")
GROUPS = ("", "万", "亿")
PREFIXES: dict[str, str] = {"CNY": "人民币", "HKD": "港币", "MOP": "澳门币", "TWD": "新台币"}
MAX_MINOR = 10 ** (4 * len(GROUPS)) * 100 - 1


class AmountWordsError(ValueError):
    """An amount that cannot be written in Chinese capitals (negative, too large, or an unsupported currency)."""


def _group_words(value: int) -> str:
    """A group of four digits (1..9999) with its places, zeros inside collapsed to one 零, none at the end."""
    words: list[str] = []
    pending_zero = False
    for place in range(3, -1, -1):
        digit = value // 10**place % 10
        if digit == 0:
            pending_zero = bool(words)
            continue
        if pending_zero:
            words.append("零")
            pending_zero = False
        words.append(DIGITS[digit] + PLACES[place])
    return "".join(words)


def yuan_words(yuan: int) -> str:
    """The whole-yuan part in capitals without the 元: ``yuan_words(1001) == "壹仟零壹"``; 0 is ``""``.

    Groups of four digits are joined with 万/亿; one 零 stands where zeros separate two non-zero digits, whether
    inside a group or across a group boundary (壹万零壹拾, 壹亿零壹万).
    """
    if yuan < 0:
        raise AmountWordsError(f"negative amount {yuan}")
    groups: list[int] = []
    while yuan:
        yuan, group = divmod(yuan, 10_000)
        groups.append(group)
    if len(groups) > len(GROUPS):
        raise AmountWordsError("amount too large for Chinese capitals")
    words: list[str] = []
    zero_before = False  # a zero digit seen since the last non-zero digit written
    for index in range(len(groups) - 1, -1, -1):
        group = groups[index]
        if group == 0:
            zero_before = bool(words)
            continue
        if words and (zero_before or group < 1000):
            words.append("零")
        words.append(_group_words(group) + GROUPS[index])
        zero_before = group % 10 == 0
    return "".join(words)


def amount_in_words(minor: int, currency: str = "CNY", *, prefix: bool = True) -> str:
    """An amount in minor units as Chinese capitals: ``amount_in_words(12345) == "人民币壹佰贰拾叁元肆角伍分"``.

    ``prefix`` adds the currency's name (人民币 for CNY). Only currencies counted in 元 with two minor digits are
    supported (CNY, HKD, MOP, TWD). Raises :class:`AmountWordsError` for a negative or too large amount.
    """
    if currency not in PREFIXES or minor_digits(currency) != 2:
        raise AmountWordsError(f"no Chinese capitals for currency {currency!r}")
    if isinstance(minor, bool) or not isinstance(minor, int):
        raise AmountWordsError(f"amount {minor!r} is not an integer number of minor units")
    if minor < 0:
        raise AmountWordsError(f"negative amount {minor} cannot be written in capitals")
    if minor > MAX_MINOR:
        raise AmountWordsError(f"amount {minor} too large for Chinese capitals")
    yuan, cents = divmod(minor, 100)
    jiao, fen = divmod(cents, 10)
    text = yuan_words(yuan)
    if yuan:
        text += "元"
    if jiao == 0 and fen == 0:
        text = (text or "零元") + "整"
    else:
        if yuan and (jiao == 0 or yuan % 10 == 0):
            text += "零"  # zeros between the last non-zero yuan digit and the first non-zero of 角/分
        if jiao:
            text += DIGITS[jiao] + "角"
        text += DIGITS[fen] + "分" if fen else "整"
    return (PREFIXES[currency] if prefix else "") + text
