"""What keeps one slow or hostile client from stalling a camera listener: connection caps and one log line per flood.

:class:`ConnectionGate` wraps the HTTP server's protocol: a connection past the listener's cap, or past the cap for
its source address, is answered ``503`` and closed at once (it never reaches the HTTP parser, so it costs one file
descriptor for a moment). Idle connections and half-sent request heads are closed by the HTTP server's keep-alive
timer (the listener sets it to its header timeout); half-sent bodies by the listener's body timeout.

:class:`OncePerKey` is how refusals are logged: once per source and reason in a window, with the number of further
refusals reported with the first refusal after the window, so a flood writes a few lines, not one per request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from drivers.lpr.metrics import REFUSED

_BUSY = b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
MAX_LOG_KEYS = 256  # distinct sources remembered by OncePerKey; beyond that one line covers them all


class OncePerKey:
    """Logs the first event of each key in a window of ``interval`` seconds; later ones are only counted."""

    def __init__(self, logger: logging.Logger, interval: float = 300.0, clock: Callable[[], float] = time.monotonic):
        self._logger = logger
        self._interval = interval
        self._clock = clock
        self._since: dict[str, float] = {}
        self._suppressed: Counter[str] = Counter()
        self._overflow_since: float | None = None

    def log(self, level: int, key: str, message: str, *args: Any) -> bool:
        """Log ``message`` unless ``key`` was logged less than ``interval`` ago; True when a line was written."""
        now = self._clock()
        for old in [k for k, t in self._since.items() if now - t >= self._interval]:
            del self._since[old]
            if count := self._suppressed.pop(old, 0):
                self._logger.log(level, "%s: %d more like this in the last %.0f s", old, count, self._interval)
        if key in self._since:
            self._suppressed[key] += 1
            return False
        if len(self._since) >= MAX_LOG_KEYS:
            if self._overflow_since is not None and now - self._overflow_since < self._interval:
                return False
            self._overflow_since = now
            self._logger.log(level, "more than %d sources refused; not logging each", MAX_LOG_KEYS)
            return True
        self._since[key] = now
        self._logger.log(level, message, *args)
        return True


class FloodFilter(logging.Filter):
    """For the HTTP server's own logger: one record per message and source in ``interval`` seconds, without the
    traceback (aiohttp logs every malformed request with one: a flood of them must not become a flood of lines)."""

    def __init__(self, interval: float = 300.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._interval = interval
        self._clock = clock
        self._since: dict[tuple[str, str], float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        now = self._clock()
        args = record.args if isinstance(record.args, tuple) else ()
        key = (str(record.msg)[:80], str(args[0])[:64] if args else "")
        if now - self._since.get(key, -1e18) < self._interval:
            return False
        if len(self._since) >= MAX_LOG_KEYS:
            self._since = {k: t for k, t in self._since.items() if now - t < self._interval}
            if len(self._since) >= MAX_LOG_KEYS:
                return False
        self._since[key] = now
        if record.exc_info and record.exc_info[1] is not None:
            record.msg = f"{record.msg}: %s (further ones not logged for {self._interval:.0f} s)"
            record.args = (*args, str(record.exc_info[1])[:200])
            record.exc_info = None
            record.exc_text = None
        return True


class ConnectionGate:
    """Counts open connections per listener and per source address; refuses those past either cap."""

    def __init__(self, name: str, max_connections: int, max_per_source: int, log: OncePerKey) -> None:
        self.name = name
        self.max_connections = max_connections
        self.max_per_source = max_per_source
        self.open = 0
        self.by_source: Counter[str] = Counter()
        self._log = log

    def wrap(self, factory: Callable[[], asyncio.Protocol]) -> Callable[[], asyncio.Protocol]:
        """A protocol factory for ``loop.create_server`` that puts this gate in front of ``factory``'s protocols."""
        return lambda: _Gated(self, factory)

    def admit(self, source: str) -> bool:
        if self.open >= self.max_connections:
            self._refuse(source, "too-many-connections", f"{self.max_connections} connections open")
            return False
        if self.by_source[source] >= self.max_per_source:
            self._refuse(source, "too-many-from-source", f"{self.max_per_source} connections open from it")
            return False
        self.open += 1
        self.by_source[source] += 1
        return True

    def release(self, source: str) -> None:
        self.open -= 1
        self.by_source[source] -= 1
        if self.by_source[source] <= 0:
            del self.by_source[source]

    def _refuse(self, source: str, reason: str, why: str) -> None:
        REFUSED.labels(self.name, reason).inc()
        self._log.log(logging.WARNING, f"{source} {reason}", "%s: connection from %s refused: %s", self.name, source,
                      why)  # fmt: skip


class _Gated(asyncio.Protocol):
    """One connection: admitted (then everything goes to the HTTP server's protocol) or answered 503 and closed."""

    def __init__(self, gate: ConnectionGate, factory: Callable[[], asyncio.Protocol]) -> None:
        self._gate = gate
        self._factory = factory
        self._inner: asyncio.Protocol | None = None
        self._source = ""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        self._source = str(peer[0]) if isinstance(peer, tuple) and peer else "?"
        if not self._gate.admit(self._source):
            assert isinstance(transport, asyncio.Transport)
            transport.write(_BUSY)
            transport.close()
            return
        self._inner = self._factory()
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self._inner is not None:
            self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._inner is not None else None

    def pause_writing(self) -> None:
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._inner is not None:
            self._inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._inner is not None:
            self._gate.release(self._source)
            inner, self._inner = self._inner, None
            inner.connection_lost(exc)
