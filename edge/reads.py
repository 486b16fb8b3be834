"""Binding plate and card reads to the vehicle they were taken of.

Plate cameras push one read two or three times, sometimes seconds apart, and may push it before the vehicle is on
the arming loop. A read must identify the vehicle it was taken of and never the next one, so a lane keeps a read
only while it waits for a vehicle (idle, or collecting reads for the vehicle on the arming loop) and drops:

* a read received while a vehicle that has been decided is still in the lane (being served, refused, passing):
  it can only be that vehicle's, or one taken before that vehicle left;
* a read taken before the lane's previous vehicle left, by the camera's own clock corrected for its offset (the
  smallest receive-minus-capture time of the camera's recent reads: a repeat pushed late keeps its capture time);
* a repeat of a camera event already received (the same event id);
* a read of a plate that was decided for the previous vehicle, received within ``repeat_window`` after that
  vehicle left (a repeat without a usable capture time or event id); a vehicle that backed out is not suppressed,
  since it may come straight back.

A kept read is usable for the vehicle on the arming loop for ``read_window`` (a read taken just before the vehicle
reached the loop counts). The time windows are lane settings (``read_window_ms``, ``repeat_window_ms``).
"""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta

from edge.events import PlateSeen
from parking.plates import skeleton

# Beyond this the camera's clock is not believed at all (unset clock, wrong zone): its reception time is used.
MAX_CAMERA_OFFSET = timedelta(hours=12)
_OFFSET_SAMPLES = 32


class ReadBinder:
    """The reads kept for the next vehicle of one lane, with what is needed to refuse repeats and stale reads."""

    def __init__(self, read_window: timedelta, repeat_window: timedelta) -> None:
        self.read_window = read_window
        self.repeat_window = repeat_window
        self.reads: deque[tuple[datetime, PlateSeen]] = deque(maxlen=16)  # (taken, read)
        self.card: tuple[datetime, str] | None = None
        self.left_at: datetime | None = None  # when the lane's previous vehicle left
        self.dropped = 0  # reads refused as repeats or stale (for tests and diagnostics)
        self._decided: set[str] = set()  # skeletons of the plates the vehicle in the lane was decided on
        self._recent: deque[tuple[str, datetime]] = deque(maxlen=16)  # (skeleton, suppressed until)
        self._event_ids: deque[str] = deque(maxlen=64)
        self._offsets: dict[str, deque[timedelta]] = {}

    # ------------------------------------------------------------------------------------------------ intake

    def taken_at(self, read: PlateSeen, now: datetime) -> datetime:
        """When ``read`` was taken, on the lane's clock: the camera's time corrected for its offset, never later than
        ``now``; ``now`` when the camera gave no time or its clock cannot be believed."""
        if read.taken_at is None:
            return now
        offset = now - read.taken_at
        if abs(offset) > MAX_CAMERA_OFFSET:
            return now
        samples = self._offsets.setdefault(read.camera, deque(maxlen=_OFFSET_SAMPLES))
        samples.append(offset)
        return min(now, read.taken_at + min(samples))

    def offer_plate(self, read: PlateSeen, now: datetime, accepting: bool) -> bool:
        """Keep ``read`` for the next decision if it may belong to the vehicle the lane waits for; say whether kept.

        ``accepting`` is false while a decided vehicle is still in the lane.
        """
        if read.event_id is not None:
            key = f"{read.camera}\x1f{read.event_id}"
            if key in self._event_ids:
                return self._drop()
            self._event_ids.append(key)
        taken = self.taken_at(read, now)
        if not accepting:
            return self._drop()
        if self.left_at is not None and taken < self.left_at:
            return self._drop()
        plate = skeleton(read.plate)
        if any(plate == recent and now < until for recent, until in self._recent):
            return self._drop()
        self.reads.append((taken, read))
        return True

    def offer_card(self, number: str, now: datetime, accepting: bool) -> bool:
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

    def consume(self) -> None:
        """The vehicle was decided on the kept reads: they are its own and are not kept for anyone else."""
        self._decided.update(skeleton(read.plate) for _, read in self.reads)
        self.reads.clear()
        self.card = None

    def vehicle_left(self, now: datetime, *, suppress_repeats: bool = True) -> None:
        """The vehicle in the lane left it (passed, refused and gone, backed out): nothing read so far is kept."""
        self.left_at = now
        if suppress_repeats:
            until = now + self.repeat_window
            self._recent.extend((plate, until) for plate in self._decided)
        self._decided.clear()
        self.reads.clear()
        self.card = None
