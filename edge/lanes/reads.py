"""Binding plate and card reads to the vehicle they were taken of.

Plate cameras push one read two or three times, sometimes seconds apart, and may push it before the vehicle is on
the arming loop; in a queue they read the next car as it reaches the arming loop while the previous one is still
on the safety loop. A read must identify the vehicle it was taken of and never the next one, so a lane drops:

* a repeat of a camera event already received (the same event id);
* a read taken before the lane's last vehicle was decided (by the camera's own clock corrected for its offset: the
  smallest receive-minus-capture time of the camera's recent reads, so a repeat pushed late keeps its capture
  time): it is that vehicle's, or an older one's;
* a read of the plate the vehicle in the lane was decided on, or of a look-alike reading of it (O/0, B/8…;
  similarity 0.85 or more — not a plate one character apart, which a convoy of fleet cars may well have), while
  that vehicle is in the lane and for ``repeat_window`` after it left (a vehicle that backed out is not
  suppressed: it may come straight back);
* a card presented while a decided vehicle is in the lane (it is that driver's); and, for a vehicle decided on a
  pass's card before any read of its plate, a read of the pass's plates (the camera reading the card holder's car).

A read of another plate taken while the decided vehicle is still in the lane is the next car's: it is kept, and
counts for the next vehicle from the moment the lane is free. A kept read is usable for ``read_window`` (a read
taken just before the vehicle reached the arming loop counts). Windows are lane settings (``read_window_ms``,
``repeat_window_ms``).
"""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta

from edge.lanes.events import PlateSeen
from parking.plates import similarity

CLOCK_JUMP = timedelta(minutes=1)  # a read this far from the camera's usual offset: its clock jumped, or it is stale
CLOCK_AGREEMENT = timedelta(seconds=5)  # three reads in a row this close to one another: the clock jumped
CLOCK_EVIDENCE = timedelta(seconds=10)  # ... arriving over at least this long (a burst of stored events does not)
SAME_VEHICLE = 0.85  # similarity at which a read is the decided vehicle's (exact or look-alike characters)
_OFFSET_SAMPLES = 32


class ReadBinder:
    """The reads kept for the next vehicle of one lane, with what is needed to refuse repeats and stale reads."""

    def __init__(self, read_window: timedelta, repeat_window: timedelta) -> None:
        self.read_window = read_window
        self.repeat_window = repeat_window
        self.reads: deque[tuple[datetime, PlateSeen]] = deque(maxlen=16)  # (taken, read)
        self.card: tuple[datetime, str] | None = None
        self.left_at: datetime | None = None  # when the lane's previous vehicle left
        self.decided_at: datetime | None = None  # when the last vehicle was decided
        self.dropped = 0  # reads refused as repeats or stale (for tests and diagnostics)
        self._decided: set[str] = set()  # the plates the vehicle in the lane was decided on
        self._recent: deque[tuple[str, datetime]] = deque(maxlen=16)  # (plate, suppressed until)
        self._event_ids: deque[str] = deque(maxlen=64)
        self._offsets: dict[str, deque[tuple[datetime, timedelta]]] = {}  # per camera: (arrival, offset)

    # ------------------------------------------------------------------------------------------------ intake

    def taken_at(self, read: PlateSeen, now: datetime) -> datetime:
        """When ``read`` was taken, on the lane's clock: the camera's time corrected by the camera's offset (the
        smallest receive-minus-capture time of its recent reads: network delays only add to it), never later than
        ``now``; ``now`` when the camera gave no time. A camera whose clock jumped (three reads in a row agreeing on a
        new offset) starts its estimate afresh; a burst of stored events sent late does not agree with itself, so it
        stays old and is dropped."""
        if read.taken_at is None:
            return now
        offset = now - read.taken_at
        samples = self._offsets.setdefault(read.camera, deque(maxlen=_OFFSET_SAMPLES))
        samples.append((now, offset))
        estimate = min(o for _, o in samples)
        recent = list(samples)[-3:]
        jumped = (
            len(recent) == 3
            and all(abs(o - estimate) > CLOCK_JUMP for _, o in recent)
            and max(o for _, o in recent) - min(o for _, o in recent) <= CLOCK_AGREEMENT
            and recent[-1][0] - recent[0][0] >= CLOCK_EVIDENCE  # three vehicles, not one burst of stored events
        )
        if jumped:
            samples.clear()
            samples.extend(recent)
            estimate = min(o for _, o in recent)
        return min(now, read.taken_at + estimate)

    def offer_plate(self, read: PlateSeen, now: datetime) -> bool:
        """Keep ``read`` for the next decision unless it is a repeat, stale, or of the decided vehicle; say whether
        kept."""
        if read.event_id is not None:
            key = f"{read.camera}\x1f{read.event_id}"
            if key in self._event_ids:
                return self._drop()
            self._event_ids.append(key)
        taken = self.taken_at(read, now)
        if read.taken_at is not None and self.decided_at is not None and taken <= self.decided_at:
            return self._drop()
        if any(similarity(read.plate, plate) >= SAME_VEHICLE for plate in self._decided):
            return self._drop()
        if any(now < until and similarity(read.plate, plate) >= SAME_VEHICLE for plate, until in self._recent):
            return self._drop()
        self.reads.append((taken, read))
        return True

    def offer_card(self, number: str, now: datetime, accepting: bool) -> bool:
        """Keep a card for the next decision; ``accepting`` is false while a decided vehicle is in the lane."""
        if not accepting:
            return self._drop()
        self.card = (now, number)
        return True

    def _drop(self) -> bool:
        self.dropped += 1
        return False

    # ------------------------------------------------------------------------------------------------ use

    def usable(self, now: datetime, min_confidence: float) -> list[PlateSeen]:
        """The kept reads of at least ``min_confidence`` taken within the read window before ``now``."""
        horizon = now - self.read_window
        return [read for taken, read in self.reads if taken >= horizon and read.confidence >= min_confidence]

    def usable_card(self, now: datetime) -> str | None:
        if self.card is not None and self.card[0] >= now - self.read_window:
            return self.card[1]
        return None

    def consume(self, now: datetime, plates: tuple[str, ...] = ()) -> None:
        """The vehicle was decided on the kept reads: they are its own and are not kept for anyone else. ``plates``:
        the plates it is known by besides (a pass decided on its card alone), whose reads are its own too."""
        self._decided.update(read.plate for _, read in self.reads)
        self._decided.update(plates)
        self.decided_at = now
        self.reads.clear()
        self.card = None

    def vehicle_left(self, now: datetime, *, suppress_repeats: bool = True) -> None:
        """The vehicle in the lane left it (passed, refused and gone, backed out): reads of other plates taken
        meanwhile are the next car's and count from now; a card presented meanwhile was that driver's."""
        self.left_at = now
        if suppress_repeats:
            until = now + self.repeat_window
            self._recent.extend((plate, until) for plate in self._decided)
        self._decided.clear()
        kept = [(max(taken, now), read) for taken, read in self.reads]
        self.reads.clear()
        self.reads.extend(kept)
        self.card = None
