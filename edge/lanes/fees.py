"""The fee a temporary vehicle owes at exit, behind a small protocol so lanes stay pure and testable.

:class:`TariffFees` adapts the tariff engine (:mod:`parking.tariff`): tariffs are loaded once from the site's
files and quoted in memory, so a quote never touches the disk at a lane.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from parking.tariff import Tariff, load_tariff, parse_tariff, quote

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FeeQuote:
    """What is due: integer minor units, the breakdown lines as JSON, and which tariff (id and hash) said so."""

    total: int
    currency: str
    tariff_id: str
    tariff_hash: str
    lines: list[dict[str, Any]] = field(default_factory=list)
    flags: tuple[str, ...] = ()
    quoted_at: datetime | None = None  # the exit time the fee was computed for (central re-checks with it)

    def waived(self) -> FeeQuote:
        """The same quote with nothing to pay (a free or special vehicle, a manual open): the lines stay as evidence."""
        return FeeQuote(0, self.currency, self.tariff_id, self.tariff_hash, self.lines, self.flags)

    def to_payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "amount": self.total,
            "currency": self.currency,
            "tariff_id": self.tariff_id,
            "tariff_hash": self.tariff_hash,
            "lines": self.lines,
            "flags": list(self.flags),
        }
        if self.quoted_at is not None:
            payload["quoted_at"] = self.quoted_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
        return payload


class FeeQuoter(Protocol):
    def quote(
        self, tariff: str, entry: datetime | None, exit: datetime, vehicle_class: str, *, lost_card: bool = False,
        paid: int = 0, paid_at: datetime | None = None,
    ) -> FeeQuote:  # fmt: skip
        """What is due leaving at ``exit``; ``entry`` is None only for a lost card without a known entry; ``paid``
        at ``paid_at`` (a pay station) counts, and nothing is due within the tariff's grace after it."""
        ...

    def max_stay(self, tariff: str) -> timedelta | None: ...


class TariffFees:
    """Quotes with :mod:`parking.tariff` for the tariffs named in the site file (loaded once, quoted in memory)."""

    def __init__(self, files: dict[str, Path]) -> None:
        self.tariffs: dict[str, Tariff] = {}
        self.texts: dict[str, str] = {}  # content hash -> the file's text, sent to central once (tariff_version)
        for name, path in files.items():
            raw = Path(path).read_bytes() if Path(path).is_file() else None
            tariff = parse_tariff(raw, source=str(path)) if raw is not None else load_tariff(path)
            self.tariffs[name] = tariff
            if raw is not None:
                try:
                    self.texts[tariff.content_hash] = raw.decode("utf-8")
                except UnicodeDecodeError:  # parse_tariff refuses non-UTF-8 already; kept for the type checker
                    _LOGGER.warning("tariff %s is not UTF-8 text: not archived", path)

    def quote(
        self, tariff: str, entry: datetime | None, exit: datetime, vehicle_class: str, *, lost_card: bool = False,
        paid: int = 0, paid_at: datetime | None = None,
    ) -> FeeQuote:  # fmt: skip
        compiled = self.tariffs[tariff]
        # A class the tariff does not price (e.g. new_energy where all pay alike) pays the default class.
        cls = vehicle_class if vehicle_class in compiled.classes else compiled.default_class
        result = quote(compiled, entry, exit, cls, lost_card=lost_card, paid=paid, paid_at=paid_at)
        return FeeQuote(
            total=result.total, currency=result.currency, tariff_id=result.tariff_id, tariff_hash=result.tariff_hash,
            lines=list(result.to_json()["lines"]), flags=tuple(result.flags), quoted_at=exit,
        )  # fmt: skip

    def max_stay(self, tariff: str) -> timedelta | None:
        return self.tariffs[tariff].max_stay
