"""The fee a temporary vehicle owes at exit, behind a small protocol so lanes stay pure and testable.

:class:`TariffFees` adapts the tariff engine (:mod:`parking.tariff`): tariffs are loaded once (from the site's
files, or as published by central) and quoted in memory, so a quote never touches the disk at a lane.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

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

    def to_payload(self) -> dict[str, Any]:
        return {
            "amount": self.total,
            "currency": self.currency,
            "tariff_id": self.tariff_id,
            "tariff_hash": self.tariff_hash,
            "lines": self.lines,
            "flags": list(self.flags),
        }


class FeeQuoter(Protocol):
    def quote(
        self, tariff: str, entry: datetime, exit: datetime, vehicle_class: str, *, lost_card: bool = False
    ) -> FeeQuote: ...

    def max_stay(self, tariff: str) -> timedelta | None: ...


class TariffFees:
    """Quotes with :mod:`parking.tariff` for the tariffs named in the site file."""

    def __init__(self, files: dict[str, Path]) -> None:
        # Imported by name: the engine is a sibling component, and a site without tariffs needs none of it.
        engine: Any = importlib.import_module("parking.tariff")
        self._engine = engine
        self._tariffs: dict[str, Any] = {}
        self._hashes: dict[str, str] = {}
        for name, path in files.items():
            self._tariffs[name] = engine.load_tariff(path)
            self._hashes[name] = hashlib.sha256(path.read_bytes()).hexdigest()

    def quote(
        self, tariff: str, entry: datetime, exit: datetime, vehicle_class: str, *, lost_card: bool = False
    ) -> FeeQuote:
        result = self._engine.quote(self._tariffs[tariff], entry, exit, vehicle_class, lost_card=lost_card)
        raw = result.to_json()
        lines = raw.get("lines", []) if isinstance(raw, dict) else []
        return FeeQuote(
            total=int(result.total),
            currency=str(result.currency),
            tariff_id=str(getattr(result, "tariff_id", tariff)),
            tariff_hash=str(getattr(result, "tariff_hash", None) or self._hashes[tariff]),
            lines=list(lines),
            flags=tuple(str(f) for f in getattr(result, "flags", ())),
        )

    def max_stay(self, tariff: str) -> timedelta | None:
        value = getattr(self._tariffs[tariff], "max_stay", None)
        return value if isinstance(value, timedelta) else None
