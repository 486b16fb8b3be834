"""Device health and reconnection, shared by every driver.

A driver reports one of four states with a reason: ``online`` (talking normally), ``degraded`` (talking, but with
errors or retries), ``offline`` (no link: port gone, connection refused, no answer) and ``fault`` (the device
answers and says it is broken, e.g. a barrier motor fault or a loop open circuit). State changes are logged once,
not on every failed poll.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

_LOGGER = logging.getLogger(__name__)


class Health(StrEnum):
    ONLINE = "online"
    DEGRADED = "degraded"
    OFFLINE = "offline"
    FAULT = "fault"


@dataclass(frozen=True, slots=True)
class HealthChange:
    """A device's health changed (an event drivers emit alongside their own)."""

    device: str
    health: Health
    reason: str
    at: float  # time.time() of the change


HealthListener = Callable[[HealthChange], None]


@dataclass
class HealthTracker:
    """Keeps a device's health, tells listeners on change, logs each change once."""

    device: str
    health: Health = Health.OFFLINE
    reason: str = "not started"
    since: float = field(default_factory=time.time)
    listeners: list[HealthListener] = field(default_factory=list)

    def set(self, health: Health, reason: str) -> None:
        if health is self.health and reason == self.reason:
            return
        changed = health is not self.health
        self.health, self.reason, self.since = health, reason, time.time()
        if changed:
            level = logging.INFO if health is Health.ONLINE else logging.WARNING
            _LOGGER.log(level, "%s is %s: %s", self.device, health.value, reason)
        event = HealthChange(self.device, health, reason, self.since)
        for listener in list(self.listeners):
            listener(event)


@dataclass
class Backoff:
    """Exponential backoff with jitter for reconnects: 0.1 s, 0.2 s, 0.4 s ... up to ``maximum``."""

    initial: float = 0.1
    maximum: float = 5.0
    factor: float = 2.0
    jitter: float = 0.1
    _next: float = 0.0

    def next_delay(self) -> float:
        delay = self._next or self.initial
        self._next = min(delay * self.factor, self.maximum)
        return delay * (1 + random.uniform(-self.jitter, self.jitter))

    def reset(self) -> None:
        self._next = 0.0
