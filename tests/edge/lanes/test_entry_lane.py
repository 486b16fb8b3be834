"""The entry lane's flows, one per decision outcome and abnormal event (pure machine, simulated clock)."""

from __future__ import annotations

from datetime import timedelta

from edge.lanes.actions import Alert, CloseBarrier, Decided, DispenseCard, Display
from edge.lanes.events import (
    BarrierPosition,
    BarrierReport,
    CardDispensed,
    CardPresented,
    ConfirmVehicle,
    Loop,
    LoopChanged,
    ManualOpen,
    PlateSeen,
    ResetAntiPassback,
    Tick,
)
from edge.lanes.lane import Phase
from edge.lanes.park import SessionKind
from parking.wire import PassStatus, RecordKind, VehicleList
from tests.edge.kit import (
    Clock,
    a_pass,
    a_vehicle,
    arrive,
    assert_open_is_justified,
    context,
    cross,
    drafts,
    entry_lane,
    feed,
    of_type,
    opens,
)


def test_monthly_pass_by_plate_opens_after_commit_and_closes_behind() -> None:
    ctx = context(passes=[a_pass(days_left=20)])
    lane, clock = entry_lane(ctx), Clock()
    actions = feed(lane, clock, *arrive("粤B3R7K2"))
    assert_open_is_justified(actions)
    assert len(opens(actions)) == 1
    (session,) = drafts(actions, RecordKind.SESSION)
    assert session.payload["event"] == "opened"
    assert session.payload["session_kind"] == "pass"
    assert session.payload["decision"] == "monthly pass"
    assert "剩余20天" in " ".join(of_type(actions, Display)[0].lines)
    assert ctx.park.occupancy["small"] == 1
    after = feed(lane, clock, *cross())
    assert len(of_type(after, CloseBarrier)) == 1
    assert lane.phase is Phase.IDLE
    assert not lane.busy


def test_plate_read_before_the_loop_counts_and_lookalike_read_matches() -> None:
    ctx = context(passes=[a_pass("粤B3R7K2")])
    lane, clock = entry_lane(ctx), Clock()
    assert feed(lane, clock, PlateSeen("粤83R7K2", 0.95)) == []  # the camera fired first
    actions = feed(lane, clock, LoopChanged(Loop.ARMING, True))
    (session,) = drafts(actions, RecordKind.SESSION)
    assert session.payload["session_kind"] == "pass"
    assert session.payload["plate"] == "粤B3R7K2"


def test_card_identifies_a_pass_when_the_plate_is_unreadable() -> None:
    ctx = context(passes=[a_pass(card="123:45678")])
    lane, clock = entry_lane(ctx), Clock()
    assert feed(lane, clock, *arrive("粤B3R7K2", confidence=0.3)) == []  # below threshold: no read
    actions = feed(lane, clock, CardPresented("123:45678"))
    assert drafts(actions, RecordKind.SESSION)[0].payload["pass_id"] == "pass-粤B3R7K2"


def test_a_plate_read_after_a_card_decided_the_pass_is_that_car_not_the_next() -> None:
    ctx = context(passes=[a_pass(card="70000006")])
    lane, clock = entry_lane(ctx), Clock()
    actions = feed(lane, clock, LoopChanged(Loop.ARMING, True), CardPresented("70000006"))
    (session,) = drafts(actions, RecordKind.SESSION)
    assert (session.payload["card"], session.payload["plate"]) == ("70000006", None)
    later = feed(lane, clock, PlateSeen("粤B3R7K2", 0.95), PlateSeen("粤B3R7K2", 0.95), *cross())
    assert drafts(later, RecordKind.SESSION) == []  # no second decision for the same car
    assert lane.binder.dropped == 2
    assert lane.phase is Phase.IDLE
    again = feed(lane, clock, *arrive("粤AD10086"))  # the next car is decided on its own read
    assert drafts(again, RecordKind.SESSION)[0].payload["plate"] == "粤AD10086"


def test_renewal_reminder_within_seven_days() -> None:
    ctx = context(passes=[a_pass(days_left=5)])
    actions = feed(entry_lane(ctx), Clock(), *arrive("粤B3R7K2"))
    assert "请及时续租" in of_type(actions, Display)[0].lines
    assert "renewal_reminder" in drafts(actions, RecordKind.SESSION)[0].payload["flags"]


def test_expired_or_suspended_pass_enters_as_temporary_with_reason() -> None:
    ctx = context(passes=[a_pass(days_left=-3), a_pass("粤B11111", status=PassStatus.SUSPENDED)])
    lane, clock = entry_lane(ctx), Clock()
    actions = feed(lane, clock, *arrive("粤B3R7K2"))
    session = drafts(actions, RecordKind.SESSION)[0].payload
    assert session["session_kind"] == "temporary"
    assert "expired_pass" in session["flags"]
    assert session["decision"].startswith("pass expired")
    assert not [a for a in of_type(actions, Alert) if a.kind == "pass_stopped"]  # a lapsed pass is no alert
    feed(lane, clock, *cross())
    actions = feed(lane, clock, *arrive("粤B11111"))
    stopped = [a for a in of_type(actions, Alert) if a.kind == "pass_stopped"]
    assert len(stopped) == 1
    assert "粤B11111" in stopped[0].message
    assert stopped[0].details["pass_id"] is not None
    # Suspended with no reason given (by hand, or an older central that sends none): the generic reason.
    assert drafts(actions, RecordKind.SESSION)[0].payload["decision"] == "pass suspended"
    assert of_type(actions, Display)[0].lines == ("粤B11111", "月租卡已暂停", "按临时车收费", "临时车 欢迎光临")


def test_a_pass_suspended_for_arrears_says_why_on_the_display_and_in_the_record() -> None:
    held = a_pass(card="123:45678", status=PassStatus.SUSPENDED, status_reason="arrears")
    lane, clock = entry_lane(context(passes=[held])), Clock()
    actions = feed(lane, clock, *arrive("粤B3R7K2"))
    session = drafts(actions, RecordKind.SESSION)[0].payload
    assert (session["session_kind"], session["decision"]) == ("temporary", "pass suspended: arrears")
    assert session["identity"]["reason"] == "pass suspended: arrears"
    assert "expired_pass" in session["flags"]
    assert of_type(actions, Display)[0].lines == ("粤B3R7K2", "月租卡已暂停：欠费", "按临时车收费", "临时车 欢迎光临")
    feed(lane, clock, *cross())
    by_card = feed(lane, clock, LoopChanged(Loop.ARMING, True), CardPresented("123:45678"))  # the pass's card
    assert "月租卡已暂停：欠费" in of_type(by_card, Display)[0].lines
    feed(lane, clock, *cross())
    unknown = a_pass("粤B22222", status=PassStatus.SUSPENDED, status_reason="audit")  # a reason this edge never met
    actions = feed(entry_lane(context(passes=[unknown])), clock, *arrive("粤B22222"))
    assert drafts(actions, RecordKind.SESSION)[0].payload["decision"] == "pass suspended: audit"
    assert "月租卡已暂停：audit" in of_type(actions, Display)[0].lines


def test_blacklist_is_denied_alerted_and_recorded() -> None:
    ctx = context(vehicles=[a_vehicle("粤B66666", VehicleList.BLACKLIST, "arrears")])
    lane, clock = entry_lane(ctx), Clock()
    actions = feed(lane, clock, *arrive("粤B66666"))
    assert opens(actions) == []
    assert [a.kind for a in of_type(actions, Alert)] == ["blacklist"]
    (event,) = drafts(actions, RecordKind.ABNORMAL_EVENT)
    assert event.payload["event"] == "entry_denied"
    assert event.payload["code"] == "blacklist"
    phases = [lane.phase]
    feed(lane, clock, LoopChanged(Loop.ARMING, False))
    phases.append(lane.phase)
    assert phases == [Phase.DENIED, Phase.IDLE]


def test_free_vehicle_automatic_and_operator_confirmed() -> None:
    police = a_vehicle("粤B1234警", VehicleList.FREE, "police")
    ctx = context(vehicles=[police])
    actions = feed(entry_lane(ctx), Clock(), *arrive("粤B1234警"))
    session = drafts(actions, RecordKind.SESSION)[0].payload
    assert session["session_kind"] == "free"
    assert session["category"] == "police"

    ctx = context(vehicles=[police])
    lane, clock = entry_lane(ctx, free_vehicles="operator"), Clock()
    actions = feed(lane, clock, *arrive("粤B1234警"))
    assert opens(actions) == []
    assert lane.phase is Phase.WAITING
    actions = feed(lane, clock, ConfirmVehicle(operator="collector-7", reason="police on duty"))
    assert_open_is_justified(actions)
    (manual,) = drafts(actions, RecordKind.MANUAL_ACTION)
    assert manual.payload["operator"] == "collector-7"
    assert manual.payload["reason"] == "police on duty"


def test_temporary_ticketless_by_plate_and_by_dispensed_card() -> None:
    ctx = context()
    actions = feed(entry_lane(ctx), Clock(), *arrive("粤B12345"))
    assert drafts(actions, RecordKind.SESSION)[0].payload["session_kind"] == "temporary"
    lane, clock = entry_lane(ctx, ticketless=False, has_dispenser=True), Clock()
    actions = feed(lane, clock, *arrive("粤B54321"))
    assert of_type(actions, DispenseCard)
    assert opens(actions) == []
    actions = feed(lane, clock, CardDispensed("T-0001"))
    session = drafts(actions, RecordKind.SESSION)[0].payload
    assert session["card"] == "T-0001"
    assert session["plate"] == "粤B54321"
    assert ctx.park.by_card("T-0001") is not None


def test_no_read_in_the_window_calls_the_booth_or_dispenses() -> None:
    lane, clock = entry_lane(context()), Clock()
    feed(lane, clock, LoopChanged(Loop.ARMING, True))
    assert feed(lane, clock, Tick()) == []
    actions = lane.handle(Tick(), clock.advance(3.5))
    assert [a.kind for a in of_type(actions, Alert)] == ["call_booth"]
    lane, clock = entry_lane(context(), has_dispenser=True), Clock()
    feed(lane, clock, LoopChanged(Loop.ARMING, True))
    assert of_type(lane.handle(Tick(), clock.advance(3.5)), DispenseCard)


def test_full_car_park_refuses_temporary_but_not_passes() -> None:
    ctx = context(passes=[a_pass()], capacity={"small": 1})
    lane, clock = entry_lane(ctx), Clock()
    feed(lane, clock, *arrive("粤B00001"), *cross())
    actions = feed(lane, clock, *arrive("粤B00002"))
    assert opens(actions) == []
    assert drafts(actions, RecordKind.ABNORMAL_EVENT)[0].payload["code"] == "full"
    feed(lane, clock, LoopChanged(Loop.ARMING, False))
    actions = feed(lane, clock, *arrive("粤B3R7K2"))
    assert len(opens(actions)) == 1
    assert ctx.park.occupancy["small"] == 2


def test_anti_passback_hard_denies_and_audited_reset_lets_in() -> None:
    ctx = context(passes=[a_pass()])
    lane, clock = entry_lane(ctx, anti_passback="hard"), Clock()
    feed(lane, clock, *arrive("粤B3R7K2"), *cross())
    clock.advance(60)  # the same car again, not a repeat of its read (edge.lanes.reads)
    actions = feed(lane, clock, *arrive("粤B3R7K2"))
    assert opens(actions) == []
    assert drafts(actions, RecordKind.ABNORMAL_EVENT)[0].payload["code"] == "anti_passback"
    actions = feed(lane, clock, ResetAntiPassback(operator="sup-1", reason="car left through the service gate"))
    assert_open_is_justified(actions)
    kinds = [d.payload.get("event") or d.payload.get("action") for d in drafts(actions)]
    assert kinds[:2] == ["reset_anti_passback", "voided"]
    assert ctx.park.occupancy["small"] == 1


def test_anti_passback_soft_allows_and_flags() -> None:
    ctx = context(passes=[a_pass()])
    lane, clock = entry_lane(ctx), Clock()
    feed(lane, clock, *arrive("粤B3R7K2"), *cross())
    clock.advance(60)  # the same car again, not a repeat of its read (edge.lanes.reads)
    actions = feed(lane, clock, *arrive("粤B3R7K2"))
    assert "anti_passback" in drafts(actions, RecordKind.SESSION)[0].payload["flags"]


def test_back_out_voids_the_entry_and_closes() -> None:
    ctx = context()
    lane, clock = entry_lane(ctx), Clock()
    feed(lane, clock, *arrive("粤B12345"))
    assert ctx.park.occupancy["small"] == 1
    assert feed(lane, clock, LoopChanged(Loop.ARMING, False)) == []  # not yet: it may still reach the safety loop
    actions = feed(lane, clock, Tick(), step=0.5)
    assert [d.payload["event"] for d in drafts(actions) if "event" in d.payload] == ["voided", "back_out"]
    assert len(of_type(actions, CloseBarrier)) == 1
    assert ctx.park.occupancy["small"] == 0


def test_tailgating_is_recorded_and_close_waits_for_the_second_vehicle() -> None:
    lane, clock = entry_lane(context()), Clock()
    feed(lane, clock, *arrive("粤B12345"), LoopChanged(Loop.SAFETY, True), LoopChanged(Loop.ARMING, False))
    assert of_type(feed(lane, clock, LoopChanged(Loop.SAFETY, False)), CloseBarrier)
    actions = feed(lane, clock, LoopChanged(Loop.SAFETY, True))  # a second car under the barrier
    assert drafts(actions, RecordKind.ABNORMAL_EVENT)[0].payload["event"] == "tailgating"
    assert of_type(actions, CloseBarrier) == []
    assert of_type(feed(lane, clock, LoopChanged(Loop.SAFETY, False)), CloseBarrier)


def test_never_closes_on_an_occupied_or_faulted_safety_loop() -> None:
    lane, clock = entry_lane(context()), Clock()
    feed(lane, clock, *arrive("粤B12345"), LoopChanged(Loop.SAFETY, True), LoopChanged(Loop.ARMING, False))
    actions = feed(lane, clock, LoopChanged(Loop.SAFETY, False, faulted=True))
    assert of_type(actions, CloseBarrier) == []
    assert [a.kind for a in of_type(actions, Alert)] == ["loop_fault"]
    assert of_type(feed(lane, clock, LoopChanged(Loop.SAFETY, False)), CloseBarrier)


def test_a_stuck_safety_loop_is_reported_once_and_a_vehicle_it_cannot_see_cross_keeps_its_entry() -> None:
    lane, clock = entry_lane(context(), loop_stuck=timedelta(seconds=60)), Clock()
    feed(lane, clock, LoopChanged(Loop.SAFETY, True))  # stuck: presence with nobody there
    assert lane.deadline == clock.now + timedelta(seconds=60)
    assert feed(lane, clock, Tick()) == []
    clock.advance(60)
    actions = feed(lane, clock, Tick(), Tick())
    assert [a.kind for a in of_type(actions, Alert)] == ["loop_stuck"]
    assert [(d.payload["event"], d.payload["loop"]) for d in drafts(actions)] == [("loop_stuck", "safety")]
    # A vehicle comes, is let in, and drives on: the arming loop clears, the safety loop shows no change.
    actions = feed(lane, clock, *arrive("粤B12345"), LoopChanged(Loop.ARMING, False))
    assert opens(actions)
    clock.advance(1)
    actions = feed(lane, clock, Tick())
    assert drafts(actions) == []  # not voided as a back-out
    assert of_type(actions, CloseBarrier) == []  # and never down on the presence
    assert len(lane.park.sessions) == 1
    assert lane.phase is Phase.IDLE
    assert of_type(feed(lane, clock, LoopChanged(Loop.SAFETY, False)), CloseBarrier)  # repaired: it closes


def test_barrier_opened_without_command_and_fault_are_abnormal() -> None:
    lane, clock = entry_lane(context()), Clock()
    feed(lane, clock, BarrierReport(BarrierPosition.CLOSED))  # the first report: where the barrier stands
    actions = feed(lane, clock, BarrierReport(BarrierPosition.OPEN))
    assert drafts(actions, RecordKind.ABNORMAL_EVENT)[0].payload["event"] == "opened_without_command"
    feed(lane, clock, BarrierReport(BarrierPosition.CLOSED))
    actions = feed(lane, clock, BarrierReport(BarrierPosition.FAULT, "motor"), BarrierReport(BarrierPosition.FAULT))
    assert [d.payload["event"] for d in drafts(actions)] == ["barrier_fault"]
    # A commanded opening is not abnormal.
    feed(lane, clock, BarrierReport(BarrierPosition.CLOSED))
    actions = feed(lane, clock, *arrive("粤B12345"), BarrierReport(BarrierPosition.OPEN))
    assert drafts(actions, RecordKind.ABNORMAL_EVENT) == []


def test_manual_open_records_who_and_why_before_opening() -> None:
    ctx = context()
    lane, clock = entry_lane(ctx), Clock()
    feed(lane, clock, LoopChanged(Loop.ARMING, True))
    actions = feed(lane, clock, ManualOpen(operator="collector-7", reason="plate covered in mud"))
    assert_open_is_justified(actions)
    (manual,) = drafts(actions, RecordKind.MANUAL_ACTION)
    assert manual.payload["action"] == "manual_open"
    assert [a.outcome for a in of_type(actions, Decided)] == ["open"]


def test_entry_session_kinds() -> None:
    ctx = context(passes=[a_pass()])
    feed(entry_lane(ctx), Clock(), *arrive("粤B3R7K2"))
    (session,) = ctx.park.sessions.values()
    assert session.kind is SessionKind.PASS


def test_abnormal_events_after_the_decision_keep_the_evidence_image() -> None:
    lane, clock = entry_lane(context()), Clock()
    feed(lane, clock, LoopChanged(Loop.ARMING, True), PlateSeen("粤B12345", 0.95, image="snap/0001.jpg"))
    actions = feed(lane, clock, LoopChanged(Loop.ARMING, False), Tick(), step=0.5)  # backs out
    (event,) = [d for d in drafts(actions, RecordKind.ABNORMAL_EVENT)]
    assert event.payload["evidence"] == "snap/0001.jpg"
