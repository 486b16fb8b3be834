"""Sign-in attempts counted by where they come from, so one source can neither spray a PIN across every operator id
nor lock every operator out.

Each source (the address the console request came from) has a sliding window: after ``max_failures`` failed or
refused attempts within ``window`` it is refused outright, before any operator's PIN is checked or any
operator's failure counter moves, until the window has slid past its oldest counted attempt. Attempts refused while
over the limit count too, so a source that keeps hammering stays refused. With the defaults (5 in 5 minutes) and the
per-operator lock after 3 wrong PINs, one source can lock at most one operator.

Sources are kept in memory: a restart of the edge forgets them (the audit of every attempt is in SQLite).
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable
from datetime import datetime, timedelta

SOURCES_MAX = 10_000  # the oldest are forgotten beyond this, so a flood of addresses cannot exhaust memory


class SourceGuard:
    """Failed sign-in attempts per source in a sliding window."""

    def __init__(
        self, clock: Callable[[], datetime], *, max_failures: int = 5, window: timedelta = timedelta(minutes=5)
    ) -> None:
        self.clock = clock
        self.max_failures = max_failures
        self.window = window
        self._failures: OrderedDict[str, deque[datetime]] = OrderedDict()

    def refused_until(self, source: str) -> datetime | None:
        """When ``source`` may try again, or ``None`` when it may try now."""
        failures = self._failures.get(source)
        if failures is None or len(failures) < self.max_failures:
            return None
        until = failures[0] + self.window
        return until if self.clock() < until else None

    def failed(self, source: str) -> bool:
        """Count one failed (or refused) attempt; True when it takes ``source`` over the limit just now."""
        now = self.clock()
        failures = self._failures.pop(source, None) or deque(maxlen=self.max_failures)
        while failures and failures[0] + self.window <= now:
            failures.popleft()
        was_over = len(failures) >= self.max_failures
        failures.append(now)
        self._failures[source] = failures  # most recent last
        while len(self._failures) > SOURCES_MAX:
            self._failures.popitem(last=False)
        return not was_over and len(failures) >= self.max_failures
