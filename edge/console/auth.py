"""Who is at the console: a session cookie made after a PIN sign-in (:class:`edge.booth.operators.OperatorStore`
checks the PIN, locks after wrong PINs and audits every attempt).

Only collectors and supervisors get a session. The cookie is HttpOnly and SameSite=Strict, and every state
change is a JSON POST, so another site cannot act in the operator's name. Sessions live in memory: a restart of
the edge signs everybody out (the shift itself is in the journal and stays open).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from edge.booth.operators import Operator, Role

COOKIE = "parkgate_console"
IDLE_LIMIT_S = 8 * 3600
CONSOLE_ROLES = frozenset({Role.COLLECTOR, Role.SUPERVISOR})


@dataclass
class SignedIn:
    operator: Operator
    token: str
    last_seen: float


@dataclass
class ConsoleSessions:
    idle_limit_s: float = IDLE_LIMIT_S  # a session unused this long is ended (a booth left signed in)
    sessions: dict[str, SignedIn] = field(default_factory=dict)
    clock: Callable[[], float] = time.monotonic

    def start(self, operator: Operator) -> SignedIn:
        if operator.role not in CONSOLE_ROLES:
            raise PermissionError(f"role {operator.role} may not use the booth console")
        token = secrets.token_urlsafe(32)
        self.sessions[token] = SignedIn(operator, token, self.clock())
        return self.sessions[token]

    def get(self, token: str | None) -> SignedIn | None:
        if not token:
            return None
        signed = self.sessions.get(token)
        if signed is None:
            return None
        now = self.clock()
        if now - signed.last_seen > self.idle_limit_s:
            del self.sessions[token]
            return None
        signed.last_seen = now
        return signed

    def end(self, token: str | None) -> None:
        if token:
            self.sessions.pop(token, None)
