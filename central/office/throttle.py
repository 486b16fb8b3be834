"""Limiting failed sign-ins: a sliding window of failures per account and per source address.

Kept in the process's memory: behind a load balancer each central process counts its own failures, so the limit
an attacker meets is at most the configured one times the number of processes (every failure is also in the audit
log, whichever process saw it).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from central.core.windows import FailureWindow

__all__ = ["FailureWindow", "SignInThrottle"]


class SignInThrottle:
    """One window per account (``attempts`` failures) and one per source address (20 times as many)."""

    ADDRESS_FACTOR = 20

    def __init__(self, attempts: int, window_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.accounts = FailureWindow(attempts, window_s, clock)
        self.addresses = FailureWindow(attempts * self.ADDRESS_FACTOR, window_s, clock)

    def retry_after(self, account: str, address: str) -> float:
        return max(self.accounts.retry_after(account.casefold()), self.addresses.retry_after(address))

    def failed(self, account: str, address: str) -> None:
        self.accounts.fail(account.casefold())
        self.addresses.fail(address)

    def succeeded(self, account: str) -> None:
        self.accounts.clear(account.casefold())
