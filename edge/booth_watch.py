"""What the booth sees of the lanes besides their state machines: the records they commit (told by
:class:`ObservedWriter`), the last plate read and its image, a short history per lane for the screen."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from edge.actions import Draft
from edge.writer import JournalWriter
from parking.money import format_amount
from parking.wire import JournalRecord, RecordKind

_LOGGER = logging.getLogger(__name__)
HISTORY = 8


class ObservedWriter(JournalWriter):
    """The journal writer that tells listeners each batch of drafts once it is committed (deferred records, which
    nothing waits for, such as a close command, when they are handed to the writer)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.listeners: list[Callable[[Sequence[Draft]], None]] = []

    async def commit(self, drafts: Sequence[Draft]) -> list[JournalRecord]:
        records = await super().commit(drafts)
        self._tell(drafts)
        return records

    def defer(self, drafts: Sequence[Draft]) -> None:
        super().defer(drafts)
        self._tell(drafts)

    def _tell(self, drafts: Sequence[Draft]) -> None:
        for listener in self.listeners:
            try:
                listener(drafts)
            except Exception:
                _LOGGER.exception("commit listener failed")


def line_label(line: Mapping[str, Any], currency: str) -> str:
    """A tariff breakdown line as one short label: ``stay 1×60min@5.00 + 1×60min@2.00``."""
    label = str(line.get("note") or line.get("kind") or "fee")
    units = line.get("units") or []
    if units:
        parts = [f"{u['units']}×{u['unit_minutes']}min@{format_amount(u['unit_price'], currency)}" for u in units]
        label = f"{line.get('kind', 'fee')} " + " + ".join(parts)
    return label


@dataclass
class LaneWatch:
    """What the desk remembers of a lane beyond its state machine: the last plate read and its image."""

    plate: str | None = None
    confidence: float = 0.0
    image: str | None = None
    read_at: datetime | None = None
    pending_payment: str | None = None  # the booth payment whose vehicle has not crossed yet
    history: deque[tuple[datetime, str, str]] = field(default_factory=lambda: deque(maxlen=HISTORY))


def history_line(draft: Draft, currency: str) -> tuple[str, str] | None:
    """A committed record as (kind, text) for a lane's history on the screen; ``None`` for what is not shown."""
    p = draft.payload
    plate = p.get("plate") or ""
    if draft.kind is RecordKind.TRANSACTION:
        kind = str(p.get("transaction_kind", "transaction"))
        amount = p.get("amount")
        money = format_amount(int(amount), currency) if isinstance(amount, int) and amount else ""
        extra = p.get("method") or p.get("category") or ""
        return kind, " ".join(str(x) for x in (plate, money, extra) if x)
    if draft.kind is RecordKind.MANUAL_ACTION:
        return str(p.get("action", "manual")), f"{p.get('operator', '')}: {p.get('reason', '')}"
    if draft.kind is RecordKind.ABNORMAL_EVENT:
        return "abnormal", str(p.get("event", ""))
    return None
