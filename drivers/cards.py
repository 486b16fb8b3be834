"""The one event every card reader driver emits: :class:`CardRead`.

OSDP readers (through libosdp) and plain Wiegand-to-RS485 converters both end here, so the edge matches access cards
and temporary cards without knowing which reader sent them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class CardRead:
    """A card presented at a reader.

    ``card_number`` is the number printed on the card for the formats that define one (H10301: the 16-bit card
    number; 34-bit: the 16-bit card number) or the whole number a converter sent. ``value`` is the complete data field
    without parity bits (24 bits for Wiegand 26, 32 for Wiegand 34): the number many Chinese readers print, and the
    one to match when a site enrolled cards by their UID. ``parity_ok`` is ``None`` where the source carries no parity.
    """

    reader: str
    card_number: int
    at: datetime
    source: str  # "osdp" or "wiegand-converter"
    format: str  # "H10301", "W34", "raw", "decimal"
    facility: int | None = None
    value: int | None = None
    bits: int | None = None
    parity_ok: bool | None = None
    raw: str = ""  # the bit string or the line, kept for evidence
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "reader": self.reader,
            "source": self.source,
            "format": self.format,
            "facility": self.facility,
            "card_number": self.card_number,
            "value": self.value,
            "bits": self.bits,
            "parity_ok": self.parity_ok,
            "at": self.at.isoformat(),
            "raw": self.raw,
            **({"extra": self.extra} if self.extra else {}),
        }
