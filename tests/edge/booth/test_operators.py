"""Operator sign-in: PIN hashing, lockout after three wrong PINs, the audit, supervisor approval."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from edge.booth.operators import Operator, OperatorError, OperatorStore, Outcome, Role, SignInError

T0 = datetime(2026, 11, 27, 0, 0, tzinfo=UTC)
FAST = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)  # cheap for tests; production uses the defaults


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(clock: Clock) -> OperatorStore:
    store = OperatorStore(sqlite3.connect(":memory:"), clock=clock, lockout=timedelta(minutes=15), hasher=FAST)
    store.add("c01", "李收费", Role.COLLECTOR, "2468", by="admin")
    store.add("s01", "王主管", Role.SUPERVISOR, "13579", by="admin")
    return store


def refused(store: OperatorStore, operator: str, pin: str) -> SignInError:
    with pytest.raises(SignInError) as info:
        store.sign_in(operator, pin, booth="B1")
    return info.value


def test_sign_in_and_the_pin_is_hashed(store: OperatorStore) -> None:
    assert store.sign_in("c01", "2468", booth="B1") == Operator("c01", "李收费", Role.COLLECTOR)
    (stored,) = store.db.execute("SELECT pin_hash FROM booth_operator WHERE id = 'c01'").fetchone()
    assert stored.startswith("$argon2id$")
    assert "2468" not in stored
    assert [(a.operator, a.outcome) for a in store.audit()] == [("c01", Outcome.OK)]


def test_three_wrong_pins_lock_until_the_time_is_up(store: OperatorStore, clock: Clock) -> None:
    assert refused(store, "c01", "0000").outcome is Outcome.WRONG_PIN
    assert refused(store, "c01", "1111").outcome is Outcome.WRONG_PIN
    third = refused(store, "c01", "2222")
    assert third.outcome is Outcome.WRONG_PIN
    assert third.locked_until == T0 + timedelta(minutes=15)
    assert store.locked_until("c01") == T0 + timedelta(minutes=15)
    clock.now = T0 + timedelta(minutes=14, seconds=59)
    locked = refused(store, "c01", "2468")  # the right PIN, but locked
    assert locked.outcome is Outcome.LOCKED
    assert "locked" in str(locked)
    clock.now = T0 + timedelta(minutes=15)
    assert store.locked_until("c01") is None
    assert store.sign_in("c01", "2468", booth="B1").id == "c01"
    outcomes = [a.outcome for a in store.audit("c01")]
    assert outcomes == [Outcome.WRONG_PIN] * 3 + [Outcome.LOCKED, Outcome.OK]
    assert store.audit("c01")[2].detail.endswith("locked until 2026-11-27T00:15:00Z")


def test_a_good_pin_resets_the_failures(store: OperatorStore) -> None:
    refused(store, "c01", "0000")
    refused(store, "c01", "0000")
    store.sign_in("c01", "2468", booth="B1")
    refused(store, "c01", "0000")
    refused(store, "c01", "0000")
    assert store.sign_in("c01", "2468", booth="B1").id == "c01"  # not locked: the run was broken


def test_after_a_lock_runs_out_a_new_run_of_three_starts(store: OperatorStore, clock: Clock) -> None:
    for _ in range(3):
        refused(store, "c01", "0000")
    clock.now += timedelta(minutes=16)
    assert refused(store, "c01", "0000").locked_until is None  # failure 1 of a fresh run
    refused(store, "c01", "0000")
    assert refused(store, "c01", "0000").locked_until == clock.now + timedelta(minutes=15)


def test_lockout_is_per_operator(store: OperatorStore) -> None:
    for _ in range(3):
        refused(store, "c01", "0000")
    assert store.sign_in("s01", "13579", booth="B1").role is Role.SUPERVISOR


def test_unknown_and_disabled_operators_are_audited(store: OperatorStore) -> None:
    assert refused(store, "ghost", "1234").outcome is Outcome.UNKNOWN
    store.set_active("c01", False, by="admin")
    assert refused(store, "c01", "2468").outcome is Outcome.DISABLED
    assert [(a.operator, a.outcome, a.booth) for a in store.audit()] == [
        ("ghost", Outcome.UNKNOWN, "B1"),
        ("c01", Outcome.DISABLED, "B1"),
    ]


def test_supervisor_approval(store: OperatorStore, clock: Clock) -> None:
    approval = store.approve("s01", "13579", action="reopen_shift_report", requested_by="c01", booth="B1")
    assert (approval.supervisor, approval.action, approval.requested_by, approval.at) == (
        "s01", "reopen_shift_report", "c01", T0,
    )  # fmt: skip
    with pytest.raises(SignInError) as info:
        store.approve("c01", "2468", action="reset_anti_passback", requested_by="c01", booth="B1")
    assert info.value.outcome is Outcome.NOT_SUPERVISOR
    with pytest.raises(SignInError) as info:
        store.approve("s01", "99999", action="reset_anti_passback", requested_by="c01", booth="B1")
    assert info.value.outcome is Outcome.WRONG_PIN
    with pytest.raises(OperatorError):
        store.approve("s01", "13579", action="open_all_barriers", requested_by="c01", booth="B1")
    purposes = [(a.purpose, a.outcome) for a in store.audit()]
    assert purposes == [
        ("approve:reopen_shift_report", Outcome.OK),
        ("approve:reset_anti_passback", Outcome.OK),
        ("approve:reset_anti_passback", Outcome.NOT_SUPERVISOR),
        ("approve:reset_anti_passback", Outcome.WRONG_PIN),
    ]


def test_pins_and_definitions_checked(store: OperatorStore) -> None:
    for pin in ("123", "123456789", "12a4", ""):
        with pytest.raises(OperatorError):
            store.add("c02", "x", Role.COLLECTOR, pin, by="admin")
    with pytest.raises(OperatorError):
        store.add("c01", "again", Role.COLLECTOR, "1234", by="admin")
    with pytest.raises(OperatorError):
        store.set_pin("ghost", "1234", by="admin")


def test_set_pin_clears_a_lock(store: OperatorStore) -> None:
    for _ in range(3):
        refused(store, "c01", "0000")
    store.set_pin("c01", "8642", by="s01")
    assert store.sign_in("c01", "8642", booth="B1").id == "c01"
    assert refused(store, "c01", "2468").outcome is Outcome.WRONG_PIN


def test_store_on_a_file_keeps_operators_and_audit(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "journal.sqlite"
    first = OperatorStore(path, clock=clock, hasher=FAST)
    first.add("c01", "李收费", Role.COLLECTOR, "2468", by="admin")
    refused(first, "c01", "0000")
    first.db.close()
    again = OperatorStore(path, clock=clock, hasher=FAST)
    assert again.get("c01") == Operator("c01", "李收费", Role.COLLECTOR)
    assert [a.outcome for a in again.audit()] == [Outcome.WRONG_PIN]


def test_production_hasher_parameters(clock: Clock) -> None:
    store = OperatorStore(":memory:", clock=clock)
    store.add("c01", "李收费", Role.COLLECTOR, "2468", by="admin")
    (stored,) = store.db.execute("SELECT pin_hash FROM booth_operator").fetchone()
    assert "m=65536,t=3" in stored  # argon2-cffi's RFC 9106 low-memory profile
    assert store.sign_in("c01", "2468", booth="B1").id == "c01"
