"""How a read is bound to the vehicle it was taken of (edge.lanes.reads), rule by rule, and through the lane machine."""

from __future__ import annotations

from datetime import timedelta

from edge.lanes.events import Loop, LoopChanged, PlateSeen, Tick
from edge.lanes.lane import Phase
from edge.lanes.reads import ReadBinder
from parking.wire import RecordKind
from tests.edge.kit import T0, Clock, a_pass, arrive, context, cross, drafts, entry_lane, feed

WINDOW, REPEAT = timedelta(seconds=3), timedelta(seconds=10)


def binder() -> ReadBinder:
    return ReadBinder(WINDOW, REPEAT)


def test_a_read_before_the_vehicle_arrives_is_kept_for_the_read_window() -> None:
    reads = binder()
    assert reads.offer_plate(PlateSeen("粤B3R7K2", 0.9), T0)
    assert [r.plate for r in reads.usable(T0 + timedelta(seconds=2), 0.7)] == ["粤B3R7K2"]
    assert reads.usable(T0 + timedelta(seconds=4), 0.7) == []


def test_while_a_decided_vehicle_is_in_the_lane_its_reads_and_cards_are_dropped_another_plate_is_held() -> None:
    reads = binder()
    assert reads.offer_plate(PlateSeen("粤B3R7K2", 0.9), T0)
    reads.consume(T0)
    later = T0 + timedelta(seconds=1)
    assert not reads.offer_plate(PlateSeen("粤B3R7K2", 0.9), later)  # a repeat
    assert not reads.offer_plate(PlateSeen("粤B3R7KZ", 0.9), later)  # a look-alike reading of it
    assert not reads.offer_card("123:456", later, accepting=False)  # that driver's card
    assert reads.offer_plate(PlateSeen("沪A22222", 0.9), later)  # the next car, reaching the arming loop
    left = T0 + timedelta(seconds=6)
    reads.vehicle_left(left)
    # The next car's read counts from the moment the lane is free, for the read window.
    assert [r.plate for r in reads.usable(left + timedelta(seconds=2), 0.7)] == ["沪A22222"]
    assert reads.usable_card(left) is None
    assert reads.dropped == 3


def test_the_same_camera_event_twice_is_kept_once() -> None:
    reads = binder()
    read = PlateSeen("粤B3R7K2", 0.9, camera="cam", event_id="e-1")
    assert reads.offer_plate(read, T0)
    assert not reads.offer_plate(read, T0 + timedelta(seconds=1))
    assert len(reads.usable(T0 + timedelta(seconds=1), 0.0)) == 1


def test_a_read_taken_before_the_last_vehicle_was_decided_is_dropped_even_when_pushed_later() -> None:
    reads = binder()
    # The camera's clock runs 40 s behind; its reads arrive 0.2 s after capture.
    skew, delay = timedelta(seconds=40), timedelta(milliseconds=200)
    other = PlateSeen("沪A22222", 0.5, camera="cam", taken_at=T0 - skew)  # a poor read, taken with the first
    first = PlateSeen("粤B3R7K2", 0.9, camera="cam", taken_at=T0 - skew)
    assert reads.offer_plate(first, T0 + delay)
    reads.consume(T0 + delay)
    left = T0 + timedelta(seconds=5)
    reads.vehicle_left(left)
    # Pushed again only after the vehicle left, with its capture time: stale.
    assert not reads.offer_plate(other, left + timedelta(seconds=1))
    # A fresh read taken after the decision counts, whatever the camera's clock says.
    fresh = PlateSeen("沪A22222", 0.9, camera="cam", taken_at=left + timedelta(seconds=2) - skew)
    assert reads.offer_plate(fresh, left + timedelta(seconds=2) + delay)


def test_a_stored_event_sent_days_late_is_stale_and_a_clock_jump_is_learnt() -> None:
    reads = binder()
    now = T0
    for plate in ("粤B11111", "粤B22222"):  # a camera with a good clock
        now += timedelta(minutes=1)
        assert reads.offer_plate(PlateSeen(plate, 0.9, camera="cam", taken_at=now - timedelta(milliseconds=100)), now)
        reads.consume(now)
        reads.vehicle_left(now + timedelta(seconds=5))
    now += timedelta(minutes=1)
    stored = [PlateSeen(f"粤C0000{i}", 0.9, camera="cam", taken_at=now - timedelta(days=2, minutes=i))
              for i in range(4)]  # fmt: skip
    assert [reads.offer_plate(read, now) for read in stored] == [False] * 4  # a burst of old events: all stale
    burst = [
        PlateSeen(f"粤D0000{i}", 0.9, camera="cam", taken_at=now - timedelta(days=2, seconds=2 * i)) for i in range(4)
    ]  # stored events two seconds apart: they agree, but arrive at once
    assert [reads.offer_plate(read, now + timedelta(milliseconds=i)) for i, read in enumerate(burst)] == [False] * 4
    jumped = now - timedelta(days=3)  # the camera's clock is set back three days and stays there
    kept = [reads.offer_plate(PlateSeen(f"沪A1000{i}", 0.9, camera="cam", taken_at=jumped + timedelta(seconds=20 * i)),
                              now + timedelta(seconds=20 * i, milliseconds=100)) for i in range(4)]  # fmt: skip
    assert kept == [False, False, True, True]  # learnt on the third read


def test_a_camera_clock_far_off_is_not_believed() -> None:
    reads = binder()
    reads.consume(T0)
    reads.vehicle_left(T0)
    wrong = PlateSeen("沪A22222", 0.9, camera="cam", taken_at=T0 - timedelta(days=400))
    assert reads.offer_plate(wrong, T0 + timedelta(seconds=1))


def test_the_decided_plate_read_again_soon_after_the_vehicle_left_is_a_repeat() -> None:
    reads = binder()
    reads.offer_plate(PlateSeen("粤B3R7K2", 0.9), T0)
    reads.consume(T0)
    reads.vehicle_left(T0 + timedelta(seconds=4))
    assert not reads.offer_plate(PlateSeen("粤B3R7K2", 0.9), T0 + timedelta(seconds=6))
    assert not reads.offer_plate(PlateSeen("粤83R7K2", 0.9), T0 + timedelta(seconds=7))  # look-alike
    assert reads.offer_plate(PlateSeen("粤B3R7K2", 0.9), T0 + timedelta(seconds=15))


def test_a_vehicle_that_backed_out_is_not_suppressed() -> None:
    reads = binder()
    reads.offer_plate(PlateSeen("粤B3R7K2", 0.9), T0)
    reads.consume(T0)
    reads.vehicle_left(T0 + timedelta(seconds=4), suppress_repeats=False)
    assert reads.offer_plate(PlateSeen("粤B3R7K2", 0.9), T0 + timedelta(seconds=6))


def test_through_the_lane_a_repeat_after_passing_does_not_identify_the_next_vehicle() -> None:
    ctx = context(passes=[a_pass("粤B3R7K2")])
    lane, clock = entry_lane(ctx), Clock()
    feed(lane, clock, *arrive("粤B3R7K2"), PlateSeen("粤B3R7K2", 0.95), *cross())
    feed(lane, clock, PlateSeen("粤B3R7K2", 0.95))  # a late repeat, with the lane idle
    actions = feed(lane, clock, LoopChanged(Loop.ARMING, True))  # the next vehicle, no read of its own
    assert drafts(actions, RecordKind.SESSION) == []
    assert lane.phase is Phase.COLLECTING
    feed(lane, clock, PlateSeen("沪A22222", 0.95))
    assert [s.plate for s in ctx.park.sessions.values()] == ["粤B3R7K2", "沪A22222"]


def test_the_next_vehicle_waiting_while_the_first_passes_gets_no_read_of_the_first() -> None:
    ctx = context(passes=[a_pass("粤B3R7K2")])
    lane, clock = entry_lane(ctx), Clock()
    feed(lane, clock, *arrive("粤B3R7K2"))
    # The first car goes over the safety loop; the second is already on the arming loop when it leaves.
    feed(lane, clock, LoopChanged(Loop.SAFETY, True), PlateSeen("粤B3R7K2", 0.95), LoopChanged(Loop.SAFETY, False))
    phase: Phase = lane.phase
    assert phase is Phase.COLLECTING  # the arming loop never cleared: the second vehicle
    assert len(ctx.park.sessions) == 1
    actions = lane.handle(Tick(), clock.advance(3.5))
    assert drafts(actions, RecordKind.SESSION) == []  # no read of its own: the booth is called
    assert lane.phase is Phase.WAITING


def test_the_next_vehicle_read_while_the_first_passes_is_decided_on_its_own_read() -> None:
    ctx = context(passes=[a_pass("粤B3R7K2")])
    lane, clock = entry_lane(ctx), Clock()
    feed(lane, clock, *arrive("粤B3R7K2"))
    feed(lane, clock, LoopChanged(Loop.SAFETY, True), PlateSeen("沪A22222", 0.95))  # queued car read on the loop
    clock.advance(5)  # the first car takes its time over the safety loop
    actions = feed(lane, clock, LoopChanged(Loop.SAFETY, False))
    (session,) = drafts(actions, RecordKind.SESSION)
    assert session.payload["plate"] == "沪A22222"
    assert session.payload["session_kind"] == "temporary"


def test_arming_clear_then_safety_reached_soon_after_is_not_a_back_out() -> None:
    ctx = context()
    lane, clock = entry_lane(ctx), Clock()
    feed(lane, clock, *arrive("粤B12345"))
    actions = feed(lane, clock, LoopChanged(Loop.ARMING, False), LoopChanged(Loop.SAFETY, True), Tick(), step=0.2)
    assert [d for d in drafts(actions, RecordKind.ABNORMAL_EVENT)] == []
    feed(lane, clock, Tick(), LoopChanged(Loop.SAFETY, False), step=1.0)
    assert lane.phase is Phase.IDLE
    assert ctx.park.occupancy["small"] == 1
