"""Booth operators: sign-in with a PIN, lockout after wrong PINs, the audit of every attempt, supervisor approval.

PINs are stored as argon2id hashes. Three wrong PINs in a row (configurable) lock the operator for a configured
time; while locked even the right PIN is refused. Every attempt is also counted against its source (the address it
came from, :mod:`edge.booth.sign_in_guard`): a source over its limit is refused before any PIN is checked or any
operator's counter moves, so one source can neither spray a PIN across the operator ids nor lock them all out, and
its going over the limit raises a :class:`SecurityAlert`. Every attempt is written to the audit table with its
source: ``ok``, ``wrong_pin``, ``locked`` (refused because locked), ``unknown`` (no such operator), ``disabled`` or
``rate_limited`` (refused because of its source). Supervisor-only
actions (reset anti-passback, reopen a closed shift's report) need a :class:`SupervisorApproval`, which only
:meth:`OperatorStore.approve` makes, after checking a supervisor's PIN the same way (same lockout, same audit).

The store is a few tables in SQLite; it takes a connection (so the edge journal's file can host it) or a path.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from edge.booth.records import utc_text
from edge.booth.sign_in_guard import SourceGuard

PIN_PATTERN = re.compile(r"^\d{4,8}$")
SUPERVISOR_ACTIONS = frozenset({"reset_anti_passback", "reopen_shift_report"})

_SCHEMA = """
CREATE TABLE IF NOT EXISTS booth_operator (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('collector', 'supervisor')),
    pin_hash TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    failures INTEGER NOT NULL DEFAULT 0,
    locked_until TEXT,
    changed_at TEXT NOT NULL,
    changed_by TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS booth_sign_in_audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    operator TEXT NOT NULL,
    booth TEXT NOT NULL,
    purpose TEXT NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL DEFAULT ''
);
"""


class Role(StrEnum):
    COLLECTOR = "collector"  # 车辆收费员
    SUPERVISOR = "supervisor"


class Outcome(StrEnum):
    OK = "ok"
    WRONG_PIN = "wrong_pin"
    LOCKED = "locked"
    UNKNOWN = "unknown"
    DISABLED = "disabled"
    NOT_SUPERVISOR = "not_supervisor"
    RATE_LIMITED = "rate_limited"


class SignInError(Exception):
    """A sign-in or a supervisor check that did not pass; ``outcome`` says why, ``locked_until`` when locked."""

    def __init__(self, operator: str, outcome: Outcome, locked_until: datetime | None = None) -> None:
        self.operator = operator
        self.outcome = outcome
        self.locked_until = locked_until
        text = f"sign-in refused for {operator!r}: {outcome.value}"
        if locked_until is not None:
            text += f" until {utc_text(locked_until)}"
        super().__init__(text)


class OperatorError(ValueError):
    """A bad operator definition: a PIN that is not 4 to 8 digits, a duplicate id, an unknown role."""


@dataclass(frozen=True, slots=True)
class Operator:
    id: str
    name: str
    role: Role


@dataclass(frozen=True, slots=True)
class SignInAttempt:
    at: datetime
    operator: str
    booth: str
    purpose: str
    outcome: Outcome
    detail: str
    source: str = ""


@dataclass(frozen=True, slots=True)
class SecurityAlert:
    """A source went over its limit of failed sign-ins: shown at the booth and journaled for central."""

    at: datetime
    source: str
    booth: str
    failures: int
    window_s: int
    last_operator: str


@dataclass(frozen=True, slots=True)
class SupervisorApproval:
    """Proof that a supervisor entered their PIN for one action, requested by an operator, at a time."""

    supervisor: str
    action: str
    requested_by: str
    at: datetime


class OperatorStore:
    """Operators and their sign-in audit in SQLite."""

    def __init__(
        self,
        db: sqlite3.Connection | str | Path,
        *,
        clock: Callable[[], datetime],
        max_failures: int = 3,
        lockout: timedelta = timedelta(minutes=15),
        hasher: PasswordHasher | None = None,
        guard: SourceGuard | None = None,
    ) -> None:
        self.db = db if isinstance(db, sqlite3.Connection) else sqlite3.connect(db)
        self.clock = clock
        self.max_failures = max_failures
        self.lockout = lockout
        self.hasher = hasher or PasswordHasher()
        # a hash to verify against for unknown operators, so they take as long as known ones
        self._decoy = self.hasher.hash("decoy-pin")
        self.guard = guard or SourceGuard(clock)
        self.alerts: list[SecurityAlert] = []  # raised and not yet taken by the booth (see take_alerts)
        with self.db:
            self.db.executescript(_SCHEMA)
            columns = {row[1] for row in self.db.execute("PRAGMA table_info(booth_sign_in_audit)")}
            if "source" not in columns:  # an audit table from before sources were recorded
                self.db.execute("ALTER TABLE booth_sign_in_audit ADD COLUMN source TEXT NOT NULL DEFAULT ''")

    # ------------------------------------------------------------------------------------------ definitions

    def add(self, operator_id: str, name: str, role: Role, pin: str, *, by: str) -> Operator:
        """Add an operator with a PIN of 4 to 8 digits; ``by`` is who did it."""
        self._check_pin(pin)
        try:
            with self.db:
                self.db.execute(
                    "INSERT INTO booth_operator (id, name, role, pin_hash, changed_at, changed_by) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (operator_id, name, Role(role).value, self.hasher.hash(pin), utc_text(self.clock()), by),
                )
        except sqlite3.IntegrityError as err:
            raise OperatorError(f"operator {operator_id!r} exists already") from err
        return Operator(operator_id, name, Role(role))

    def set_pin(self, operator_id: str, pin: str, *, by: str) -> None:
        """Replace an operator's PIN; clears failures and any lock."""
        self._check_pin(pin)
        with self.db:
            changed = self.db.execute(
                "UPDATE booth_operator SET pin_hash = ?, failures = 0, locked_until = NULL, changed_at = ?, "
                "changed_by = ? WHERE id = ?",
                (self.hasher.hash(pin), utc_text(self.clock()), by, operator_id),
            ).rowcount
        if not changed:
            raise OperatorError(f"no operator {operator_id!r}")

    def set_active(self, operator_id: str, active: bool, *, by: str) -> None:
        with self.db:
            self.db.execute(
                "UPDATE booth_operator SET active = ?, changed_at = ?, changed_by = ? WHERE id = ?",
                (int(active), utc_text(self.clock()), by, operator_id),
            )

    def get(self, operator_id: str) -> Operator | None:
        row = self.db.execute("SELECT id, name, role FROM booth_operator WHERE id = ?", (operator_id,)).fetchone()
        return Operator(row[0], row[1], Role(row[2])) if row else None

    @staticmethod
    def _check_pin(pin: str) -> None:
        if not PIN_PATTERN.match(pin):
            raise OperatorError("a PIN is 4 to 8 digits")

    # -------------------------------------------------------------------------------------------- sign-in

    def sign_in(self, operator_id: str, pin: str, *, booth: str, source: str = "local") -> Operator:
        """Check the PIN and return the operator, or raise :class:`SignInError`. Every attempt is audited, with the
        ``source`` it came from (the console passes the client's address)."""
        return self._verify(operator_id, pin, booth=booth, purpose="sign_in", source=source)

    def approve(
        self, supervisor_id: str, pin: str, *, action: str, requested_by: str, booth: str, source: str = "local"
    ) -> SupervisorApproval:
        """Check a supervisor's PIN for one supervisor-only ``action`` and return the approval."""
        if action not in SUPERVISOR_ACTIONS:
            raise OperatorError(f"{action!r} is not a supervisor action ({', '.join(sorted(SUPERVISOR_ACTIONS))})")
        operator = self._verify(supervisor_id, pin, booth=booth, purpose=f"approve:{action}", source=source)
        if operator.role is not Role.SUPERVISOR:
            self._audit(supervisor_id, booth, f"approve:{action}", Outcome.NOT_SUPERVISOR, f"for {requested_by}",
                        source=source)  # fmt: skip
            raise SignInError(supervisor_id, Outcome.NOT_SUPERVISOR)
        return SupervisorApproval(operator.id, action, requested_by, self.clock())

    def take_alerts(self) -> list[SecurityAlert]:
        """The alerts raised since the last call (the booth shows and journals them)."""
        taken, self.alerts = self.alerts, []
        return taken

    def _verify(self, operator_id: str, pin: str, *, booth: str, purpose: str, source: str) -> Operator:
        try:
            operator = self._check(operator_id, pin, booth=booth, purpose=purpose, source=source)
        except SignInError as err:
            if err.outcome is not Outcome.RATE_LIMITED and self.guard.failed(source):
                self.alerts.append(SecurityAlert(
                    at=self.clock(), source=source, booth=booth, failures=self.guard.max_failures,
                    window_s=int(self.guard.window.total_seconds()), last_operator=operator_id,
                ))  # fmt: skip
            raise
        return operator

    def _check(self, operator_id: str, pin: str, *, booth: str, purpose: str, source: str) -> Operator:
        now = self.clock()
        refused_until = self.guard.refused_until(source)
        if refused_until is not None:  # before any PIN is checked or any operator's counter moves
            self.guard.failed(source)
            self._audit(operator_id, booth, purpose, Outcome.RATE_LIMITED, f"until {utc_text(refused_until)}",
                        source=source)  # fmt: skip
            raise SignInError(operator_id, Outcome.RATE_LIMITED, refused_until)
        row = self.db.execute(
            "SELECT id, name, role, pin_hash, active, failures, locked_until FROM booth_operator WHERE id = ?",
            (operator_id,),
        ).fetchone()
        if row is None:
            self._pin_matches(self._decoy, pin)
            self._audit(operator_id, booth, purpose, Outcome.UNKNOWN, source=source)
            raise SignInError(operator_id, Outcome.UNKNOWN)
        _, name, role, pin_hash, active, failures, locked_text = row
        locked_until = datetime.fromisoformat(locked_text) if locked_text else None
        if locked_until is not None and now < locked_until:
            self._audit(operator_id, booth, purpose, Outcome.LOCKED, f"until {utc_text(locked_until)}", source=source)
            raise SignInError(operator_id, Outcome.LOCKED, locked_until)
        if locked_until is not None:
            failures = 0  # the lock ran out: a fresh run of attempts
        if not active:
            self._audit(operator_id, booth, purpose, Outcome.DISABLED, source=source)
            raise SignInError(operator_id, Outcome.DISABLED)
        if not self._pin_matches(pin_hash, pin):
            failures += 1
            lock = now + self.lockout if failures >= self.max_failures else None
            with self.db:
                self.db.execute(
                    "UPDATE booth_operator SET failures = ?, locked_until = ? WHERE id = ?",
                    (failures, utc_text(lock) if lock else None, operator_id),
                )
            detail = f"failure {failures} of {self.max_failures}" + (f", locked until {utc_text(lock)}" if lock else "")
            self._audit(operator_id, booth, purpose, Outcome.WRONG_PIN, detail, source=source)
            raise SignInError(operator_id, Outcome.WRONG_PIN, lock)
        with self.db:
            self.db.execute("UPDATE booth_operator SET failures = 0, locked_until = NULL WHERE id = ?", (operator_id,))
        if self.hasher.check_needs_rehash(pin_hash):
            with self.db:
                self.db.execute(
                    "UPDATE booth_operator SET pin_hash = ? WHERE id = ?", (self.hasher.hash(pin), operator_id)
                )
        self._audit(operator_id, booth, purpose, Outcome.OK, source=source)
        return Operator(operator_id, name, Role(role))

    def _pin_matches(self, pin_hash: str, pin: str) -> bool:
        try:
            return bool(self.hasher.verify(pin_hash, pin))
        except (VerificationError, InvalidHashError):
            return False

    def locked_until(self, operator_id: str) -> datetime | None:
        """When the operator's lock ends, or ``None`` when not locked now."""
        row = self.db.execute("SELECT locked_until FROM booth_operator WHERE id = ?", (operator_id,)).fetchone()
        if row is None or row[0] is None:
            return None
        until = datetime.fromisoformat(row[0])
        return until if self.clock() < until else None

    # ---------------------------------------------------------------------------------------------- audit

    def _audit(
        self, operator_id: str, booth: str, purpose: str, outcome: Outcome, detail: str = "", *, source: str = ""
    ) -> None:
        with self.db:
            self.db.execute(
                "INSERT INTO booth_sign_in_audit (at, operator, booth, purpose, outcome, detail, source) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (utc_text(self.clock()), operator_id[:64], booth, purpose, outcome.value, detail, source[:64]),
            )

    def audit(self, operator_id: str | None = None) -> list[SignInAttempt]:
        """Sign-in attempts, oldest first; only ``operator_id``'s when given."""
        query = "SELECT at, operator, booth, purpose, outcome, detail, source FROM booth_sign_in_audit"
        params: tuple[str, ...] = ()
        if operator_id is not None:
            query += " WHERE operator = ?"
            params = (operator_id,)
        rows = self.db.execute(query + " ORDER BY seq", params).fetchall()
        return [
            SignInAttempt(datetime.fromisoformat(r[0]).astimezone(UTC), r[1], r[2], r[3], Outcome(r[4]), r[5], r[6])
            for r in rows
        ]
