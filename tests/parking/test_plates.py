"""Plates: GA 36 normalisation, look-alikes, one-character-off matching and consensus over reads."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parking.plates import (
    LOOKALIKE,
    PlateIndex,
    PlateKind,
    PlateReadSample,
    consensus,
    normalise_plate,
    plate_kind,
    similarity,
    skeleton,
    vehicle_class_for,
)

SERIAL_CHARS = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"  # GA 36: no I, no O
provinces = st.sampled_from("粤京沪川苏浙")
authorities = st.sampled_from("ABCEFGHJK")
serials = st.text(alphabet=SERIAL_CHARS, min_size=5, max_size=5)
standard_plates = st.builds(lambda p, a, s: p + a + s, provinces, authorities, serials)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("粤B3R7K2", "粤B3R7K2"),
        (" 粤b·3r7k2 ", "粤B3R7K2"),
        ("粤Ｂ３Ｒ７Ｋ２", "粤B3R7K2"),  # full-width from an operator's keyboard
        ("粤B3O7I2", "粤B30712"),  # no O or I in a serial
        ("粤8 3R7K2", "粤B3R7K2"),  # a digit in the authority place is a letter
        ("粤B012345", "粤BD12345"),  # small new-energy: D first
        ("粤B123450", "粤B12345D"),  # large new-energy: D last
        ("粤BD1234O", "粤BD12340"),
        ("粤B1234警", "粤B1234警"),
        ("WJ12345", "WJ12345"),  # not a provincial plate: cleaned only
    ],
)
def test_normalise(raw: str, expected: str) -> None:
    assert normalise_plate(raw) == expected


@pytest.mark.parametrize(
    ("plate", "kind"),
    [
        ("粤B3R7K2", PlateKind.STANDARD),
        ("粤BD12345", PlateKind.NEW_ENERGY),
        ("粤B12345F", PlateKind.NEW_ENERGY),
        ("粤B1234警", PlateKind.SPECIAL),
        ("粤Z1234港", PlateKind.SPECIAL),
        ("WJ12345", PlateKind.OTHER),
        ("粤B123", PlateKind.OTHER),
    ],
)
def test_kind(plate: str, kind: PlateKind) -> None:
    assert plate_kind(plate) is kind


def test_vehicle_class_follows_colour_then_plate() -> None:
    assert vehicle_class_for("粤B3R7K2", "blue") == "small"
    assert vehicle_class_for("粤B3R7K2", "yellow") == "large"
    assert vehicle_class_for("粤BD12345") == "new_energy"
    assert vehicle_class_for("粤B3R7K2", "green") == "new_energy"


def test_similarity_grades() -> None:
    assert similarity("粤B3R7K2", "粤B3R7K2") == 1.0
    one_lookalike = similarity("粤B3R7K2", "粤83R7K2")
    two_lookalikes = similarity("粤B3R7Z2", "粤83R722")
    assert one_lookalike == pytest.approx(0.9)
    assert two_lookalikes == pytest.approx(0.8)
    assert similarity("粤B3R7K2", "粤B3R7X2") == pytest.approx(0.7)  # one substitution
    assert similarity("粤B3R7K2", "粤B3R7K") == pytest.approx(0.65)  # one dropped
    assert similarity("粤B3R7K2", "粤B3R7KK2") == pytest.approx(0.65)  # one added
    assert similarity("粤B3R7K2", "粤B3X7X2") == 0.0  # two substitutions
    assert similarity("粤B3R7K2", "粤B3R") == 0.0


@given(standard_plates)
def test_normalise_is_idempotent_and_valid(plate: str) -> None:
    once = normalise_plate(plate)
    assert normalise_plate(once) == once
    assert plate_kind(once) is PlateKind.STANDARD


@given(standard_plates, standard_plates)
def test_similarity_is_symmetric_and_bounded(a: str, b: str) -> None:
    assert similarity(a, b) == similarity(b, a)
    assert 0.0 <= similarity(a, b) <= 1.0
    assert (similarity(a, b) == 1.0) == (a == b)


@given(standard_plates, st.integers(min_value=1, max_value=6))
def test_a_lookalike_misread_still_matches_closely(plate: str, position: int) -> None:
    reverse = {v: k for k, v in LOOKALIKE.items()} | {"D": "0", "O": "0"}
    char = plate[position]
    swapped = LOOKALIKE.get(char) or reverse.get(char)
    if swapped is None or swapped == char:
        return
    misread = plate[:position] + swapped + plate[position + 1 :]
    assert skeleton(misread) == skeleton(plate)
    assert similarity(misread, plate) >= 0.9 or normalise_plate(misread) == plate


@settings(max_examples=60)
@given(st.lists(standard_plates, min_size=1, max_size=40, unique=True), standard_plates)
def test_index_agrees_with_brute_force(stored: list[str], read: str) -> None:
    index: PlateIndex[int] = PlateIndex()
    for i, plate in enumerate(stored):
        index.add(plate, i)
    found = {(m.plate, m.value, m.similarity) for m in index.lookup(read)}
    expected = {(p, i, similarity(read, p)) for i, p in enumerate(stored) if similarity(read, p) > 0}
    assert found == expected


def test_index_finds_lookalike_and_one_off_reads_and_forgets_removed() -> None:
    index: PlateIndex[str] = PlateIndex()
    index.add("粤B3R7K2", "pass-1")
    index.add("粤BD12345", "pass-2")
    assert [m.value for m in index.lookup("粤83R7K2")] == ["pass-1"]
    assert [m.value for m in index.lookup("粤B3R7K")] == ["pass-1"]
    assert [m.value for m in index.lookup("粤BD1234")] == ["pass-2"]
    assert index.lookup("粤B3R7K2", min_similarity=0.95)[0].similarity == 1.0
    assert index.lookup("粤B3X7X2") == []
    index.remove("粤B3R7K2", "pass-1")
    assert index.lookup("粤B3R7K2") == []
    assert len(index) == 1


def test_consensus_weighs_agreement() -> None:
    reads = [PlateReadSample("粤B3R7K2", 0.9), PlateReadSample("粤83R7K2", 0.8), PlateReadSample("粤B3R7X2", 0.6)]
    result = consensus(reads)
    assert result is not None
    assert result.plate == "粤B3R7K2"
    assert result.support == 2
    assert result.total == 3
    assert result.confidence == pytest.approx((0.9 + 0.8) / 3)


def test_consensus_ignores_reads_below_threshold() -> None:
    assert consensus([PlateReadSample("粤B3R7K2", 0.3)], min_confidence=0.7) is None
    result = consensus([PlateReadSample("粤B3R7K2", 0.3), PlateReadSample("粤B3R7K5", 0.9)], min_confidence=0.7)
    assert result is not None
    assert result.plate == "粤B3R7K5"
    assert result.confidence == pytest.approx(0.9)
