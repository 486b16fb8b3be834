"""Globally unique, time-ordered record ids (UUID version 7, RFC 9562)."""

from __future__ import annotations

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last_ms = 0
_counter = 0


def new_id(now_ms: int | None = None) -> str:
    """Return a new UUIDv7 as text. Ids made in one process sort in creation order.

    Within one millisecond a 12-bit counter (seeded randomly) keeps the order; ``now_ms`` lets tests pin the clock.
    """
    global _last_ms, _counter
    with _lock:
        ms = time.time_ns() // 1_000_000 if now_ms is None else now_ms
        if ms <= _last_ms:
            ms = _last_ms
            _counter += 1
            if _counter > 0xFFF:
                ms += 1
                _counter = int.from_bytes(os.urandom(2), "big") & 0x3FF
        else:
            _counter = int.from_bytes(os.urandom(2), "big") & 0x3FF
        _last_ms = ms
        rand_b = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
        value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | _counter << 64 | 0b10 << 62 | rand_b
    return str(uuid.UUID(int=value))


def id_time_ms(record_id: str) -> int:
    """The creation time (ms since the epoch) embedded in a UUIDv7 id."""
    return uuid.UUID(record_id).int >> 80
