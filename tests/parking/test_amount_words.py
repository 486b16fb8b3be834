"""Chinese capital amounts: the bank rule's own examples, edge cases, and properties over every amount."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parking.amount_words import MAX_MINOR, AmountWordsError, amount_in_words, yuan_words

DIGIT = {c: i for i, c in enumerate("零壹贰叁肆伍陆柒捌玖")}
PLACE = {"拾": 10, "佰": 100, "仟": 1000}


def parse_capitals(text: str) -> int:
    """An independent reader of capitals back into fen (ignores 零, which carries no value)."""
    text = text.removeprefix("人民币").removesuffix("整")
    total = 0
    if "元" in text:
        yuan_text, text = text.split("元", 1)
        if yuan_text != "零":
            total += parse_yuan(yuan_text) * 100
    for digit, unit in re.findall(r"([壹贰叁肆伍陆柒捌玖])([角分])", text):
        total += DIGIT[digit] * (10 if unit == "角" else 1)
    return total


def parse_yuan(text: str) -> int:
    total, section, number = 0, 0, 0
    for char in text:
        if char in DIGIT:
            number = DIGIT[char]
        elif char in PLACE:
            section += number * PLACE[char]
            number = 0
        elif char == "万":
            total += (section + number) * 10_000
            section = number = 0
        elif char == "亿":
            total = (total + section + number) * 100_000_000
            section = number = 0
    return total + section + number


@pytest.mark.parametrize(
    ("fen", "words"),
    [
        (12345, "人民币壹佰贰拾叁元肆角伍分"),
        (10005, "人民币壹佰元零伍分"),
        (100000, "人民币壹仟元整"),
        (1001000, "人民币壹万零壹拾元整"),
        # the examples of 《支付结算办法》 附件一 (where it allows two forms, the one we chose)
        (140950, "人民币壹仟肆佰零玖元伍角整"),
        (600714, "人民币陆仟零柒元壹角肆分"),
        (168032, "人民币壹仟陆佰捌拾元零叁角贰分"),
        (1640902, "人民币壹万陆仟肆佰零玖元零贰分"),
        (32504, "人民币叁佰贰拾伍元零肆分"),
        (10700053, "人民币壹拾万零柒仟元零伍角叁分"),
        # small amounts start at their first non-zero unit
        (0, "人民币零元整"),
        (5, "人民币伍分"),
        (50, "人民币伍角整"),
        (55, "人民币伍角伍分"),
        (100, "人民币壹元整"),
        (1000, "人民币壹拾元整"),
        (1500, "人民币壹拾伍元整"),
        (1005, "人民币壹拾元零伍分"),
        (1050, "人民币壹拾元零伍角整"),
        (1150, "人民币壹拾壹元伍角整"),
        # zeros across groups
        (1000000, "人民币壹万元整"),
        (100000000, "人民币壹佰万元整"),
        (10010000, "人民币壹拾万零壹佰元整"),
        (10100000, "人民币壹拾万零壹仟元整"),
        (10000000000, "人民币壹亿元整"),
        (10001000000, "人民币壹亿零壹万元整"),
        (10000000100, "人民币壹亿零壹元整"),
        (100010000000, "人民币壹拾亿零壹拾万元整"),
        (10000010000000, "人民币壹仟亿零壹拾万元整"),
        (MAX_MINOR, "人民币玖仟玖佰玖拾玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角玖分"),
        (99999999, "人民币玖拾玖万玖仟玖佰玖拾玖元玖角玖分"),
    ],
)
def test_known_amounts(fen: int, words: str) -> None:
    assert amount_in_words(fen) == words
    assert parse_capitals(words) == fen


def test_prefix_and_other_yuan_currencies() -> None:
    assert amount_in_words(12345, prefix=False) == "壹佰贰拾叁元肆角伍分"
    assert amount_in_words(100, "HKD") == "港币壹元整"
    assert yuan_words(0) == ""
    assert yuan_words(1001) == "壹仟零壹"


@pytest.mark.parametrize(("fen", "currency"), [(-1, "CNY"), (MAX_MINOR + 1, "CNY"), (100, "USD"), (100, "JPY")])
def test_refused(fen: int, currency: str) -> None:
    with pytest.raises(AmountWordsError):
        amount_in_words(fen, currency)


def test_refuses_non_integers() -> None:
    with pytest.raises(AmountWordsError):
        amount_in_words(True)
    with pytest.raises(AmountWordsError):
        amount_in_words(1.5)  # type: ignore[arg-type]


amounts = st.one_of(
    st.integers(min_value=0, max_value=MAX_MINOR),
    st.integers(min_value=0, max_value=10**7),
    # sparse amounts: few non-zero digits, many zeros (where the 零 rules bite)
    st.lists(st.tuples(st.integers(0, 17), st.integers(1, 9)), min_size=1, max_size=4).map(
        lambda parts: min(sum(d * 10**p for p, d in parts), MAX_MINOR)
    ),
)


@given(amounts)
def test_round_trip(fen: int) -> None:
    assert parse_capitals(amount_in_words(fen)) == fen


@given(amounts)
def test_zero_rules(fen: int) -> None:
    words = amount_in_words(fen, prefix=False)
    if fen == 0:
        assert words == "零元整"
        return
    assert "零零" not in words
    assert not re.search("零[元万亿角分整]", words), words
    if fen >= 100:
        assert not words.startswith("零")
    assert not words.endswith("零")
    assert re.fullmatch(r"[零壹贰叁肆伍陆柒捌玖拾佰仟万亿元角分整]+", words)


@given(amounts)
def test_ending(fen: int) -> None:
    words = amount_in_words(fen)
    if fen % 10:
        assert words.endswith("分")
        assert "整" not in words
    else:
        assert words.endswith("元整") if fen % 100 == 0 else words.endswith("角整")
    assert ("元" in words) == (fen >= 100 or fen == 0)


@given(amounts)
def test_one_zero_per_run_of_zeros(fen: int) -> None:
    """One 零 for every run of zero digits standing between two non-zero digits of the amount, none elsewhere."""
    if fen == 0:
        return
    digits = str(fen).zfill(3)
    inner_runs = len(re.findall(r"(?<=[1-9])0+(?=[1-9])", digits))
    assert amount_in_words(fen).count("零") == inner_runs


@given(st.integers(min_value=10, max_value=19))
def test_tens_are_written_with_one(yuan: int) -> None:
    assert amount_in_words(yuan * 100).startswith("人民币壹拾")
