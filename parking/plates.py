"""Number plates: normalisation by the GA 36 rules, look-alike characters, fuzzy matching and consensus.

Plate cameras misread a few characters in predictable ways (O/0, I/1, B/8, D/0, Z/2, S/5) and sometimes drop or
add one. Every comparison here goes through a *skeleton* that maps each look-alike to one representative, so a
read that differs from a stored plate only by look-alikes is "close", and a read one character off is "near".
Confidences are numbers in 0..1: a read's own confidence times how similar it is to what it is matched against.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

_LOGGER = logging.getLogger(__name__)

# The longest plate the look-alike index takes (its keys cost about 2·n² characters per plate); drivers refuse
# longer reads at the codec, this bound keeps a record written before that (or typed) from costing memory.
MAX_INDEXED_PLATE = 16
PROVINCES = frozenset("京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼")
# Trailing characters of special plates: police, learner, trailer, Hong Kong, Macau, consulate, embassy, test.
SUFFIXES = frozenset("警学挂港澳领使试超")

# Look-alike characters, each mapped to one representative. O and D both read as 0.
LOOKALIKE: dict[str, str] = {"O": "0", "D": "0", "I": "1", "B": "8", "Z": "2", "S": "5"}
_SKELETON_TABLE = str.maketrans(LOOKALIKE)
# The authority letter is a letter: a digit there is a misread of the letter it looks like.
_AUTHORITY_FROM_DIGIT = {"8": "B", "2": "Z", "5": "S", "0": "D"}
_SEPARATORS = frozenset(" \t\r\n·•.-_")

# What a look-alike difference and a one-character edit cost in similarity.
LOOKALIKE_COST = 0.1
SUBSTITUTION_COST = 0.3
INDEL_COST = 0.35


class PlateKind(StrEnum):
    STANDARD = "standard"  # 粤B3R7K2: province, authority letter, 5-character serial
    NEW_ENERGY = "new_energy"  # 粤BD12345: a 6-character serial with D/F first (small) or last (large)
    SPECIAL = "special"  # a standard plate with a suffix: 警 police, 学 learner, 港/澳 cross-border, 使/领 missions
    OTHER = "other"  # anything else (military, foreign, unreadable): kept as read


def normalise_plate(text: str) -> str:
    """Normalise a plate as read or typed: full-width to ASCII, upper case, separators removed, GA 36 fixes.

    GA 36 serials never use the letters I and O, so there an ``I`` or ``O`` can only be ``1`` or ``0``; the
    authority letter is never a digit, so a ``8``/``2``/``5``/``0`` there is read as ``B``/``Z``/``S``/``D``; a
    new-energy serial starts (small) or ends (large) with D or F, so a ``0`` in that place is a ``D``. Plates
    that do not start with a province abbreviation are only cleaned, not corrected.
    """
    clean = "".join(ch for ch in unicodedata.normalize("NFKC", text).upper() if ch not in _SEPARATORS)
    if len(clean) < 3 or clean[0] not in PROVINCES:
        return clean
    province, authority, rest = clean[0], clean[1], clean[2:]
    authority = _AUTHORITY_FROM_DIGIT.get(authority, authority)
    suffix = ""
    if rest and rest[-1] in SUFFIXES:
        rest, suffix = rest[:-1], rest[-1]
    serial = rest.replace("O", "0").replace("I", "1")
    if len(serial) == 6 and not suffix:
        if serial[0] == "0" and serial[5] not in "DF":
            serial = "D" + serial[1:]
        elif serial[5] == "0" and serial[0] not in "DF0" and serial[:5].isdigit():
            serial = serial[:5] + "D"
    return province + authority + serial + suffix


def plate_kind(plate: str) -> PlateKind:
    """Which GA 36 family a normalised plate belongs to."""
    if len(plate) < 3 or plate[0] not in PROVINCES or not ("A" <= plate[1] <= "Z"):
        return PlateKind.OTHER
    rest = plate[2:]
    if rest and rest[-1] in SUFFIXES:
        return PlateKind.SPECIAL if len(rest) in (4, 5) and rest[:-1].isalnum() else PlateKind.OTHER
    if len(rest) == 5 and rest.isascii() and rest.isalnum():
        return PlateKind.STANDARD
    if len(rest) == 6 and rest.isascii() and rest.isalnum() and (rest[0] in "DF" or rest[5] in "DF"):
        return PlateKind.NEW_ENERGY
    return PlateKind.OTHER


def vehicle_class_for(plate: str, colour: str | None = None) -> str:
    """The tariff class a plate suggests: yellow is large, green (or a new-energy serial) is new energy, else small.

    A pass or a list entry overrides this; it is only the default for temporary vehicles.
    """
    colour = (colour or "").lower()
    if colour in ("yellow", "黄", "yellowgreen", "yellow_green"):
        return "large"
    if colour in ("green", "绿") or plate_kind(plate) is PlateKind.NEW_ENERGY:
        return "new_energy"
    return "small"


def skeleton(plate: str) -> str:
    """The plate with every look-alike character replaced by its representative (``粤B3R7K2`` -> ``粤83R7K2``)."""
    return plate.translate(_SKELETON_TABLE)


def similarity(a: str, b: str) -> float:
    """How alike two normalised plates are: 1.0 equal, less for each look-alike difference, less again for one
    character substituted, added or dropped; 0.0 when they differ by more than one character (look-alikes aside).
    """
    if a == b:
        return 1.0
    if len(a) == len(b):
        cost = 0.0
        edits = 0
        for x, y in zip(a, b, strict=True):
            if x == y:
                continue
            if LOOKALIKE.get(x, x) == LOOKALIKE.get(y, y):
                cost += LOOKALIKE_COST
            else:
                edits += 1
                cost += SUBSTITUTION_COST
        if edits > 1:
            return 0.0
        return max(0.0, round(1.0 - cost, 6))
    if abs(len(a) - len(b)) != 1:
        return 0.0
    longer, shorter = (a, b) if len(a) > len(b) else (b, a)
    best = 0.0
    for i in range(len(longer)):
        if i < len(shorter) and longer[i] == shorter[i]:
            continue
        trimmed = longer[:i] + longer[i + 1 :]
        if skeleton(trimmed) != skeleton(shorter):
            continue
        lookalikes = sum(1 for x, y in zip(trimmed, shorter, strict=True) if x != y)
        best = max(best, 1.0 - INDEL_COST - LOOKALIKE_COST * lookalikes)
    return max(0.0, round(best, 6))


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PlateMatch(Generic[T]):
    """A stored plate a read matched, with what it is attached to and the similarity (0..1)."""

    plate: str
    value: T
    similarity: float


def _neighbour_keys(skel: str) -> list[str]:
    return (
        [skel]
        + [skel[:i] + "\x00" + skel[i + 1 :] for i in range(len(skel))]
        + [skel[:i] + skel[i + 1 :] for i in range(len(skel))]
    )


class PlateIndex(Generic[T]):
    """Plates (normalised) to values, searchable by exact plate, look-alikes and one character off.

    Lookups cost O(length of the plate), whatever the number of plates: each plate is indexed under its
    skeleton, its skeleton with each position wild-carded (substitutions) and with each position dropped
    (insertions and deletions); a read's candidates are then scored with :func:`similarity`. A plate longer than
    :data:`MAX_INDEXED_PLATE` (no real plate is) is kept for exact lookups only, without look-alike keys.
    """

    def __init__(self) -> None:
        self._exact: dict[str, list[T]] = {}
        self._near: dict[str, set[str]] = {}

    def __len__(self) -> int:
        return sum(len(v) for v in self._exact.values())

    def add(self, plate: str, value: T) -> None:
        plate = normalise_plate(plate)
        values = self._exact.setdefault(plate, [])
        if value in values:
            return
        values.append(value)
        if len(plate) > MAX_INDEXED_PLATE:
            if len(values) == 1:
                _LOGGER.warning("plate of %d characters indexed for exact lookups only: %r...", len(plate), plate[:20])
            return
        if len(values) == 1:
            for key in _neighbour_keys(skeleton(plate)):
                self._near.setdefault(key, set()).add(plate)

    def remove(self, plate: str, value: T) -> None:
        plate = normalise_plate(plate)
        values = self._exact.get(plate)
        if not values or value not in values:
            return
        values.remove(value)
        if values:
            return
        del self._exact[plate]
        if len(plate) > MAX_INDEXED_PLATE:
            return
        for key in _neighbour_keys(skeleton(plate)):
            bucket = self._near.get(key)
            if bucket is not None:
                bucket.discard(plate)
                if not bucket:
                    del self._near[key]

    def exact(self, plate: str) -> list[T]:
        """Values stored under exactly this plate (after normalisation)."""
        return list(self._exact.get(normalise_plate(plate), ()))

    def lookup(self, plate: str, min_similarity: float = 0.0) -> list[PlateMatch[T]]:
        """Every stored plate similar to ``plate``, best first (ties by plate text, so results are stable)."""
        plate = normalise_plate(plate)
        if len(plate) > MAX_INDEXED_PLATE:
            return [PlateMatch(plate, v, 1.0) for v in self._exact.get(plate, ())]
        skel = skeleton(plate)
        # Above what one edit leaves, only look-alike variants (same skeleton) can qualify: one bucket to read.
        keys = [skel] if min_similarity > 1.0 - SUBSTITUTION_COST else _neighbour_keys(skel)
        candidates: set[str] = set()
        for key in keys:
            candidates |= self._near.get(key, set())
        matches: list[PlateMatch[T]] = []
        for cand in candidates:
            score = similarity(plate, cand)
            if score > 0.0 and score >= min_similarity:
                matches.extend(PlateMatch(cand, v, score) for v in self._exact[cand])
        matches.sort(key=lambda m: (-m.similarity, m.plate))
        return matches


@dataclass(frozen=True, slots=True)
class PlateReadSample:
    """One camera read: the plate text as reported and the camera's confidence (0..1)."""

    plate: str
    confidence: float


@dataclass(frozen=True, slots=True)
class Consensus:
    """The plate several reads agree on, how confident that agreement is, and how many reads supported it."""

    plate: str
    confidence: float
    support: int
    total: int


def consensus(reads: Iterable[PlateReadSample], min_confidence: float = 0.0) -> Consensus | None:
    """Agree on one plate from several reads (front and rear camera, repeated triggers).

    Reads below ``min_confidence`` are treated as no read. The rest are grouped by skeleton (look-alike variants
    of one plate vote together); the group with the highest summed confidence wins, represented by its member
    with the highest summed confidence (a GA 36-valid form preferred). The result's confidence is the winning
    group's summed confidence over the number of usable reads, so disagreement lowers it.
    """
    usable = [
        PlateReadSample(normalise_plate(r.plate), r.confidence)
        for r in reads
        if r.confidence >= min_confidence and r.plate.strip()
    ]
    if not usable:
        return None
    groups: dict[str, dict[str, float]] = {}
    counts: dict[str, int] = {}
    for read in usable:
        key = skeleton(read.plate)
        members = groups.setdefault(key, {})
        members[read.plate] = members.get(read.plate, 0.0) + read.confidence
        counts[key] = counts.get(key, 0) + 1
    winner = max(groups, key=lambda k: (sum(groups[k].values()), counts[k], k))
    members = groups[winner]
    plate = max(members, key=lambda p: (plate_kind(p) is not PlateKind.OTHER, members[p], p))
    confidence = min(1.0, sum(members.values()) / len(usable))
    return Consensus(plate, round(confidence, 6), counts[winner], len(usable))
