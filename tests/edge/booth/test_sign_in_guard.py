"""The per-source limit of booth sign-ins, on an injected clock: the window slides, hammering keeps a source
refused, the alert is raised once per crossing, and a refused attempt never moves an operator's counter."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import pytest

from edge.booth.operators import OperatorStore, Outcome, Role, SignInError
from edge.booth.sign_in_guard import SourceGuard
from tests.edge.booth.test_operators import FAST, Clock


@pytest.fixture
def store() -> OperatorStore:
    clock = Clock()
    guard = SourceGuard(clock, max_failures=3, window=timedelta(minutes=5))
    store = OperatorStore(sqlite3.connect(":memory:"), clock=clock, max_failures=3, hasher=FAST, guard=guard)
    store.add("c01", "李收费", Role.COLLECTOR, "2468", by="admin")
    store.add("c02", "张收费", Role.COLLECTOR, "1357", by="admin")
    return store


def attempt(store: OperatorStore, operator: str, pin: str, source: str = "10.0.0.9") -> Outcome:
    try:
        store.sign_in(operator, pin, booth="B1", source=source)
    except SignInError as err:
        return err.outcome
    return Outcome.OK


def test_the_window_slides_and_hammering_keeps_a_source_refused(store: OperatorStore) -> None:
    clock = store.clock
    assert isinstance(clock, Clock)
    assert [attempt(store, "c01", "0000"), attempt(store, "c02", "0000"), attempt(store, "nobody", "0")] == [
        Outcome.WRONG_PIN, Outcome.WRONG_PIN, Outcome.UNKNOWN,
    ]  # fmt: skip
    alerts = store.take_alerts()
    assert [(a.source, a.failures, a.last_operator) for a in alerts] == [("10.0.0.9", 3, "nobody")]
    assert attempt(store, "c01", "2468") is Outcome.RATE_LIMITED  # the right PIN, refused: its source is over
    for _ in range(10):  # hammering once a minute: each refusal counts, so the source stays refused
        clock.now += timedelta(minutes=1)
        assert attempt(store, "c01", "2468") is Outcome.RATE_LIMITED
    clock.now += timedelta(minutes=5)
    assert attempt(store, "c01", "2468") is Outcome.OK  # quiet for the whole window: allowed again
    assert store.take_alerts() == []  # one alert for one crossing
    # The refused attempts never moved c01's counter: one earlier wrong PIN, then the right one cleared it.
    assert store.locked_until("c01") is None
    assert attempt(store, "c01", "2468", source="10.0.0.10") is Outcome.OK


def test_sources_are_forgotten_beyond_the_cap(store: OperatorStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("edge.booth.sign_in_guard.SOURCES_MAX", 10)
    for n in range(50):
        store.guard.failed(f"10.1.0.{n}")
    assert len(store.guard._failures) == 10
