"""Globally unique, time-ordered record ids (UUID version 7, RFC 9562)."""

from __future__ import annotations

import os
import threading
import time
import uuid

_lock = threading.Lock()
# Ordering state per clock: the real clock, and pinned times (tests and simulated days pass ``now_ms``), so a
# simulated clock running ahead never drags the real ids into the future.
_last_ms = {True: 0, False: 0}
_counter = {True: 0, False: 0}


def new_id(now_ms: int | None = None) -> str:
    """Return a new UUIDv7 as text. Ids made in one process sort in creation order.

    Within one millisecond a 12-bit counter (seeded randomly) keeps the order; ``now_ms`` lets tests pin the clock.
    """
    real = now_ms is None
    with _lock:
        ms = time.time_ns() // 1_000_000 if now_ms is None else now_ms
        counter = _counter[real]
        if ms <= _last_ms[real]:
            ms = _last_ms[real]
            counter += 1
            if counter > 0xFFF:
                ms += 1
                counter = int.from_bytes(os.urandom(2), "big") & 0x3FF
        else:
            counter = int.from_bytes(os.urandom(2), "big") & 0x3FF
        _last_ms[real] = ms
        _counter[real] = counter
        rand_b = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
        value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | counter << 64 | 0b10 << 62 | rand_b
    return str(uuid.UUID(int=value))


def id_time_ms(record_id: str) -> int:
    """The creation time (ms since the epoch) embedded in a UUIDv7 id."""
    return uuid.UUID(record_id).int >> 80
