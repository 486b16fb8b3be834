"""The journal: chained records with their domain rows, atomic commits, recovery, crashes, tampering."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edge.lanes.actions import Alert, Commit, Draft, LaneAction
from edge.lanes.events import Loop, LoopChanged, PlateSeen, TakePayment
from edge.lanes.exit import ExitLane
from edge.lanes.park import ParkState
from edge.runner import LaneRunner
from edge.store.journal import Journal, JournalClosedError, JournalError
from edge.store.writer import JournalWriter
from parking.wire import GENESIS_HASH, RecordKind
from tests.edge.kit import T0, Clock, arrive, context, cross, entry_lane, exit_lane, feed

ROOT = Path(__file__).resolve().parents[3]


def commit_all(journal: Journal, actions: list[LaneAction]) -> None:
    for action in actions:
        if isinstance(action, Commit):
            journal.commit(action.drafts)


def test_lane_records_are_chained_with_their_domain_rows(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite3", "lakeview")
    ctx, clock = context(), Clock()
    commit_all(journal, feed(entry_lane(ctx), clock, *arrive("粤B12345"), *cross()))
    clock.advance(2 * 3600)
    lane = exit_lane(ctx)
    actions = feed(lane, clock, *arrive("粤B12345"), TakePayment(operator="c-7", reason="cash", amount=1500))
    commit_all(journal, actions + feed(lane, clock, *cross()))
    check = journal.verify_chain()
    assert check.ok
    assert check.checked == journal.last_seq == 7
    first = journal.records()[0]
    assert first.prev_hash == GENESIS_HASH
    assert journal.count("sessions", "status = 'closed'") == 1
    (tx,) = journal.rows("SELECT amount, currency, tariff_hash, lines FROM transactions")
    assert tx[:3] == (1500, "CNY", "h" * 64)
    assert journal.count("barrier_commands") == 4
    assert journal.backlog() == 7


def wal_salts(journal: Journal) -> bytes:
    """The WAL header's salts: a new pair each time the WAL starts over from its beginning."""
    with open(f"{journal.path}-wal", "rb") as wal:
        return wal.read(24)[16:24]


def test_the_checkpoint_starts_the_wal_over_so_the_next_commit_only_appends(tmp_path: Path) -> None:
    # Starting the WAL over syncs its header before the pages: done in a lane's commit, that is a second fsync
    # before the barrier opens, so the background checkpoint does it once it has copied everything.
    journal = Journal(tmp_path / "j.sqlite3", "lakeview", background_checkpoint=True)
    for n in range(3):
        journal.commit([Draft(f"a{n}", RecordKind.ABNORMAL_EVENT, "in-1", T0, {"event": "back_out"})])
    before = wal_salts(journal)
    wal_pages, copied = journal.checkpoint()
    assert wal_pages == copied > 0
    restarted = wal_salts(journal)
    assert restarted != before  # started over in the checkpoint, not left to the next commit
    journal.commit([Draft("b", RecordKind.ABNORMAL_EVENT, "in-1", T0, {"event": "back_out"})])
    assert wal_salts(journal) == restarted  # the lane's commit appended to it
    assert journal.verify_chain().ok
    assert journal.count("abnormal_events") == 4
    journal.close()
    assert journal.checkpoint() == (0, 0)
    reopened = Journal(tmp_path / "j.sqlite3", "lakeview")
    assert reopened.last_seq == 4
    assert reopened.verify_chain().ok


def test_a_failed_commit_leaves_nothing_and_the_chain_continues(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite3", "lakeview")
    ok = Draft("a", RecordKind.ABNORMAL_EVENT, "in-1", T0, {"event": "back_out"})
    journal.commit([ok])
    again = Draft("b", RecordKind.ABNORMAL_EVENT, "in-1", T0, {"event": "tailgating"})
    with pytest.raises(JournalError):
        journal.commit([again, ok])  # "a" again: the whole commit is refused
    assert journal.count("records") == 1
    assert journal.count("abnormal_events") == 1
    journal.commit([again])
    assert journal.verify_chain().ok
    assert [r.seq for r in journal.records()] == [1, 2]


def test_open_sessions_survive_a_restart_and_are_found_at_exit(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    journal = Journal(path, "lakeview")
    ctx, clock = context(), Clock()
    commit_all(journal, feed(entry_lane(ctx), clock, *arrive("粤B12345"), *cross()))
    commit_all(journal, feed(entry_lane(ctx), clock, *arrive("粤B22222"), *cross()))
    journal.close()

    reopened = Journal(path, "lakeview")
    park = ParkState({"small": 10})
    for session in reopened.open_sessions():
        park.open(session)
    assert park.occupancy["small"] == 2
    ctx2 = context()
    ctx2.park = park
    lane = exit_lane(ctx2)
    lane.park = park
    clock.advance(600)
    actions = feed(lane, clock, *arrive("粤B12345"))
    commit_all(reopened, actions)
    assert reopened.count("sessions", "status = 'open'") == 1
    assert reopened.verify_chain().ok


def test_tampering_breaks_the_chain(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    journal = Journal(path, "lakeview")
    commit_all(journal, feed(entry_lane(context()), Clock(), *arrive("粤B12345"), *cross()))
    journal.close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE records SET payload = replace(payload, '粤B12345', '粤B99999') WHERE seq = 1")
    check = Journal(path, "lakeview").verify_chain()
    assert not check.ok
    assert check.first_bad_seq == 1
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM records WHERE seq = 2")
    assert Journal(path, "lakeview").verify_chain().first_bad_seq == 1


@pytest.mark.parametrize("kill_after", [0.6, 1.1])
def test_a_kill_at_any_instant_leaves_a_consistent_journal(tmp_path: Path, kill_after: float) -> None:
    path = tmp_path / "j.sqlite3"
    for round_ in range(2):  # kill, restart on the same file (recovering open sessions), kill again
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.edge.journal_crash_child", str(path)],
            cwd=ROOT, stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
        assert child.stdout is not None
        assert child.stdout.readline().strip() == b"ready"
        time.sleep(kill_after + 0.2 * round_)
        child.send_signal(signal.SIGKILL)
        child.wait()
    journal = Journal(path, "lakeview")
    check = journal.verify_chain()
    assert check.ok, check
    assert check.checked > 20
    orphans = journal.rows("SELECT id FROM sessions WHERE record_id NOT IN (SELECT id FROM records)")
    assert orphans == []
    unjustified = journal.rows(
        "SELECT id FROM barrier_commands WHERE command = 'open' AND for_record NOT IN (SELECT id FROM records)"
    )
    assert unjustified == []
    closed_without_tx = journal.rows(
        "SELECT s.id FROM sessions s WHERE s.status = 'closed' AND NOT EXISTS "
        "(SELECT 1 FROM transactions t WHERE t.session_id = s.id)"
    )
    assert closed_without_tx == []


class RecordingPort:
    """In-process fake of a lane's devices (tests only): remembers what it was asked to do."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def open_barrier(self) -> None:
        self.calls.append("open")

    async def close_barrier(self) -> None:
        self.calls.append("close")

    async def show(self, lines: tuple[str, ...]) -> None:
        self.calls.append("show")

    async def say(self, text: str) -> None:
        self.calls.append("say")

    async def dispense_card(self) -> None:
        self.calls.append("dispense")


class Observer:
    def __init__(self) -> None:
        self.alerts: list[Alert] = []
        self.latencies: list[float] = []

    def decided(self, lane: str, direction: str, outcome: str, identity: str, reason: str) -> None:
        pass

    def barrier_command(self, lane: str, command: str, latency_s: float | None) -> None:
        if latency_s is not None:
            self.latencies.append(latency_s)

    def alert(self, lane: str, alert: Alert) -> None:
        self.alerts.append(alert)


def failing(runner: LaneRunner) -> str | None:
    """The runner's journal failure (a function: the value changes under the test's awaits)."""
    return runner.journal_failing


async def test_runner_opens_only_after_the_commit_holds_the_vehicle_when_the_journal_fails_and_recovers(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.sqlite3"
    journal = Journal(path, "lakeview", busy_timeout_s=0.2)
    writer = JournalWriter(journal)
    port, observer = RecordingPort(), Observer()
    ctx, clock = context(), Clock()
    runner = LaneRunner(entry_lane(ctx), writer, port, observer, clock=lambda: clock.now)
    try:
        await runner.feed(LoopChanged(Loop.ARMING, True))
        await runner.feed(PlateSeen("粤B12345", 0.95))
        assert port.calls[0] == "open"
        assert journal.count("barrier_commands", "command = 'open'") == 1
        for event in cross():
            await runner.feed(event)
        assert "close" in port.calls
        assert len(observer.latencies) == 1

        # Another process holds the database: the commit fails, so the barrier must not open.
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")
        port.calls.clear()
        await runner.feed(LoopChanged(Loop.ARMING, True))
        actions = await runner.feed(PlateSeen("粤B22222", 0.95))
        blocker.execute("ROLLBACK")
        assert "open" not in port.calls
        assert "show" in port.calls  # the driver is told on the display
        assert not any(isinstance(a, Commit) for a in actions)  # nothing is reported as stored that is not
        assert failing(runner) is not None
        assert runner.out_of_service is None
        assert [a.kind for a in observer.alerts] == ["journal"]
        assert runner.lane.phase.value == "denied"
        assert runner.lane.passage is None
        assert [s.plate for s in ctx.park.sessions.values()] == ["粤B12345"]  # the refused one was taken back
        assert journal.count("sessions") == 1

        # The journal works again: the held vehicle leaves, comes back, and is let in with its records.
        await runner.feed(LoopChanged(Loop.ARMING, False))
        clock.advance(60)  # past the repeat window: its new read counts
        await runner.feed(LoopChanged(Loop.ARMING, True))
        await runner.feed(PlateSeen("粤B22222", 0.95))
        assert "open" in port.calls
        assert failing(runner) is None
        assert journal.count("sessions") == 2
        assert journal.verify_chain().ok
    finally:
        await asyncio.to_thread(writer.stop)


async def test_an_exit_whose_payment_cannot_be_stored_keeps_the_vehicle_waiting_with_its_fee(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    journal = Journal(path, "lakeview", busy_timeout_s=0.2)
    writer = JournalWriter(journal)
    port, observer = RecordingPort(), Observer()
    ctx, clock = context(), Clock()
    entry = LaneRunner(entry_lane(ctx), writer, port, observer, clock=lambda: clock.now)
    out = LaneRunner(exit_lane(ctx), writer, port, observer, clock=lambda: clock.now)
    try:
        for event in (*arrive("粤B12345"), *cross()):
            await entry.feed(event)
        clock.advance(2 * 3600)
        for event in arrive("粤B12345"):
            await out.feed(event)
        lane = out.lane
        assert isinstance(lane, ExitLane)
        assert lane.due is not None
        due = lane.due.quote.total
        port.calls.clear()
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")
        actions = await out.feed(TakePayment(operator="c-7", reason="cash", amount=due))
        blocker.execute("ROLLBACK")
        assert "open" not in port.calls
        assert not any(isinstance(a, Commit) for a in actions)  # the booth withdraws the payment it took
        assert lane.phase.value == "waiting"
        assert lane.due is not None
        assert lane.due.quote.total == due
        assert len(ctx.park.sessions) == 1  # still inside, as the journal says
        assert journal.count("sessions", "status = 'open'") == 1
        await out.feed(TakePayment(operator="c-7", reason="cash", amount=due))  # stored this time
        assert "open" in port.calls
        assert journal.count("sessions", "status = 'closed'") == 1
        assert journal.count("transactions") == 1
    finally:
        await asyncio.to_thread(writer.stop)


async def test_deferred_records_survive_a_failed_commit_and_go_with_the_next(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    journal = Journal(path, "lakeview", busy_timeout_s=0.1)
    writer = JournalWriter(journal)
    try:
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")
        writer.defer([Draft("close-1", RecordKind.BARRIER_COMMAND, "in-1", T0, {"command": "close"})])
        with pytest.raises(JournalError):
            await writer.commit([Draft("open-1", RecordKind.BARRIER_COMMAND, "in-1", T0, {"command": "open"})])
        await asyncio.sleep(0.5)  # the writer retried the deferred record on its own, and failed again
        blocker.execute("ROLLBACK")
        (record,) = await writer.commit([Draft("open-2", RecordKind.BARRIER_COMMAND, "in-1", T0, {"command": "open"})])
        assert record.id == "open-2"
        assert [r.id for r in journal.records()] == ["close-1", "open-2"]  # kept, not lost with the failure
        assert journal.verify_chain().ok
    finally:
        await asyncio.to_thread(writer.stop)


async def test_deferred_records_ride_with_the_next_commit_or_go_on_their_own(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite3", "lakeview")
    writer = JournalWriter(journal)
    try:
        close = Draft("close-1", RecordKind.BARRIER_COMMAND, "in-1", T0, {"command": "close"})
        writer.defer([close])
        opening = Draft("open-1", RecordKind.BARRIER_COMMAND, "in-1", T0, {"command": "open"})
        (record,) = await writer.commit([opening])
        assert record.id == "open-1"
        assert [r.id for r in journal.records()] == ["close-1", "open-1"]
        writer.defer([Draft("close-2", RecordKind.BARRIER_COMMAND, "in-1", T0, {"command": "close"})])
        for _ in range(50):
            if journal.last_seq == 3:
                break
            await asyncio.sleep(0.02)
        assert journal.last_seq == 3
        assert journal.verify_chain().ok
    finally:
        await asyncio.to_thread(writer.stop)


class HungDisplayPort(RecordingPort):
    """A display that took the command and never answers (its cable pulled mid-write)."""

    async def show(self, lines: tuple[str, ...]) -> None:
        self.calls.append("show")
        await asyncio.Event().wait()


async def test_a_display_that_never_answers_does_not_hold_the_lanes_shutdown(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    journal = Journal(tmp_path / "j.sqlite3", "lakeview")
    writer = JournalWriter(journal)
    port, observer = HungDisplayPort(), Observer()
    ctx, clock = context(), Clock()
    runner = LaneRunner(entry_lane(ctx), writer, port, observer, clock=lambda: clock.now)
    runner.SIDE_DRAIN_S = 0.3
    try:
        await runner.feed(LoopChanged(Loop.ARMING, True))
        await runner.feed(PlateSeen("粤B12345", 0.95))
        assert port.calls[:1] == ["open"]
        await asyncio.sleep(0.05)  # the side action starts beside the lane
        assert "show" in port.calls  # the welcome text went to the display, which hangs
        started = time.monotonic()
        await runner.drain()
        assert time.monotonic() - started < 5  # bounded by SIDE_DRAIN_S, not by the display
        assert "cancelled" in caplog.text
        assert journal.count("barrier_commands", "command = 'open'") == 1
    finally:
        await asyncio.to_thread(writer.stop)


async def test_a_writer_whose_journal_was_closed_under_it_refuses_plainly_and_names_what_it_could_not_write(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    journal = Journal(tmp_path / "journal.db", "lakeview")
    writer = JournalWriter(journal)
    writer.defer([Draft("closing", RecordKind.ABNORMAL_EVENT, "in-1", T0, {"event": "back_out"})])
    journal.close()
    with pytest.raises(JournalClosedError, match="the journal is closed"):
        await writer.commit([Draft("late", RecordKind.ABNORMAL_EVENT, "in-1", T0, {"event": "back_out"})])
    writer.stop()
    assert "deferred records not written" in caplog.text
    assert "rollback failed" not in caplog.text
    assert "Traceback" not in caplog.text
