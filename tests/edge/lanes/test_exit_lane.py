"""The exit lane's flows: fees, payment, waivers, passes, missing entries, lost cards, over-long sessions."""

from __future__ import annotations

from datetime import timedelta

from edge.lanes.actions import Alert, CloseBarrier, Display
from edge.lanes.events import (
    AttachEntry,
    ConfirmVehicle,
    Loop,
    LoopChanged,
    LostCard,
    ManualOpen,
    TakePayment,
    Tick,
    WaiveFee,
)
from edge.lanes.lane import LaneContext, Phase
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
    exit_lane,
    feed,
    of_type,
    opens,
)


def enter(ctx: LaneContext, clock: Clock, plate: str) -> None:
    lane = entry_lane(ctx)
    actions = feed(lane, clock, *arrive(plate), *cross())
    assert len(opens(actions)) == 1


def test_temporary_pays_at_attended_exit() -> None:
    ctx, clock = context(), Clock()
    enter(ctx, clock, "粤B12345")
    clock.advance(2 * 3600)
    lane = exit_lane(ctx)
    actions = feed(lane, clock, *arrive("粤B12345"))
    assert opens(actions) == []
    assert lane.phase is Phase.WAITING
    assert "请缴费 15.00元" in of_type(actions, Display)[0].lines
    short = feed(lane, clock, TakePayment(operator="c-7", reason="", amount=1000))
    assert opens(short) == []
    actions = feed(lane, clock, TakePayment(operator="c-7", reason="cash", amount=1500))
    assert_open_is_justified(actions)
    (tx,) = drafts(actions, RecordKind.TRANSACTION)
    assert tx.payload["amount"] == 1500
    assert tx.payload["currency"] == "CNY"
    assert tx.payload["tariff_hash"] == "h" * 64
    assert tx.payload["lines"]
    assert tx.payload["operator"] == "c-7"
    (closing,) = drafts(actions, RecordKind.SESSION)
    assert closing.payload["event"] == "closed"
    assert closing.payload["transaction"] == tx.id
    assert ctx.park.occupancy["small"] == 0
    assert of_type(feed(lane, clock, *cross()), CloseBarrier)


def test_a_pass_suspended_for_arrears_pays_at_the_exit_and_is_told_why() -> None:
    held = a_pass(status=PassStatus.SUSPENDED, status_reason="arrears")
    ctx, clock = context(passes=[held]), Clock()
    enter(ctx, clock, "粤B3R7K2")
    clock.advance(2 * 3600)
    lane = exit_lane(ctx)
    actions = feed(lane, clock, *arrive("粤B3R7K2"))
    assert opens(actions) == []
    assert lane.phase is Phase.WAITING
    assert of_type(actions, Display)[0].lines == ("粤B3R7K2", "月租卡已暂停：欠费", "按临时车收费", "请缴费 15.00元")
    paid = feed(lane, clock, TakePayment(operator="c-7", reason="cash", amount=1500))
    (tx,) = drafts(paid, RecordKind.TRANSACTION)
    assert tx.payload["identity"]["reason"] == "pass suspended: arrears"


def test_within_the_free_period_opens_by_itself() -> None:
    ctx, clock = context(), Clock()
    enter(ctx, clock, "粤B12345")
    clock.advance(600)
    actions = feed(exit_lane(ctx, attended=False), clock, *arrive("粤B12345"))
    assert drafts(actions, RecordKind.TRANSACTION)[0].payload["transaction_kind"] == "nothing_due"
    assert len(opens(actions)) == 1


def test_unattended_exit_with_fee_calls_the_booth() -> None:
    ctx, clock = context(), Clock()
    enter(ctx, clock, "粤B12345")
    clock.advance(3 * 3600)
    actions = feed(exit_lane(ctx, attended=False), clock, *arrive("粤B12345"))
    assert opens(actions) == []
    assert [a.kind for a in of_type(actions, Alert)] == ["call_booth"]


def test_lookalike_read_finds_the_session() -> None:
    ctx, clock = context(), Clock()
    enter(ctx, clock, "粤B3R7K2")
    clock.advance(600)
    actions = feed(exit_lane(ctx), clock, *arrive("粤83R7K2"))
    assert len(opens(actions)) == 1


def test_monthly_pass_leaves_free_and_closes_its_session() -> None:
    ctx, clock = context(passes=[a_pass(days_left=3)]), Clock()
    enter(ctx, clock, "粤B3R7K2")
    clock.advance(5 * 3600)
    actions = feed(exit_lane(ctx), clock, *arrive("粤B3R7K2"))
    (tx,) = drafts(actions, RecordKind.TRANSACTION)
    assert tx.payload["transaction_kind"] == "pass"
    assert tx.payload["amount"] == 0
    assert "请及时续租" in of_type(actions, Display)[0].lines
    assert ctx.park.sessions == {}


def test_no_entry_record_waits_for_the_operator_who_attaches_one() -> None:
    ctx, clock = context(), Clock()
    enter(ctx, clock, "粤B12345")
    clock.advance(3600 * 2)
    lane = exit_lane(ctx)
    actions = feed(lane, clock, *arrive("粤A99999"))  # misread beyond matching
    assert drafts(actions, RecordKind.ABNORMAL_EVENT)[0].payload["event"] == "no_entry_record"
    assert opens(actions) == []
    assert "请缴费 100.00元" in of_type(actions, Display)[-1].lines  # the tariff's rule: the lost-card fee
    (found,) = ctx.park.search("12345")
    actions = feed(lane, clock, AttachEntry(operator="c-7", reason="matched by partial plate", session_id=found.id))
    assert drafts(actions, RecordKind.MANUAL_ACTION)[0].payload["action"] == "attach_entry"
    actions = feed(lane, clock, TakePayment(operator="c-7", reason="cash", amount=1500))
    assert drafts(actions, RecordKind.SESSION)[0].payload["session"] == found.id


def test_lost_card_charges_the_lost_card_fee() -> None:
    ctx, clock = context(), Clock()
    lane = exit_lane(ctx)
    feed(lane, clock, *arrive("粤A99999"))
    actions = feed(lane, clock, LostCard(operator="c-7", reason="driver lost card"))
    assert "请缴费 100.00元" in of_type(actions, Display)[0].lines
    actions = feed(lane, clock, TakePayment(operator="c-7", reason="cash", amount=10000))
    assert drafts(actions, RecordKind.TRANSACTION)[0].payload["lost_card"] is True
    assert len(opens(actions)) == 1


def test_waiver_records_the_operator_and_category() -> None:
    ctx, clock = context(), Clock()
    enter(ctx, clock, "粤B12345")
    clock.advance(3 * 3600)
    lane = exit_lane(ctx)
    feed(lane, clock, *arrive("粤B12345"))
    actions = feed(lane, clock, WaiveFee(operator="c-7", reason="hearse", category="special"))
    (manual,) = drafts(actions, RecordKind.MANUAL_ACTION)
    assert manual.payload["action"] == "waive_fee"
    (tx,) = drafts(actions, RecordKind.TRANSACTION)
    assert tx.payload["amount"] == 0
    assert tx.payload["due"] == 2000
    assert tx.payload["category"] == "special"


def test_free_vehicle_leaves_automatically_or_on_confirmation() -> None:
    ambulance = a_vehicle("粤B120急", VehicleList.FREE, "ambulance")
    ctx, clock = context(vehicles=[ambulance]), Clock()
    actions = feed(exit_lane(ctx), clock, *arrive("粤B120急"))
    assert drafts(actions, RecordKind.TRANSACTION)[0].payload["transaction_kind"] == "waiver"
    lane = exit_lane(context(vehicles=[ambulance]), free_vehicles="operator")
    assert opens(feed(lane, clock, *arrive("粤B120急"))) == []
    actions = feed(lane, clock, ConfirmVehicle(operator="c-7", reason="ambulance"))
    assert len(opens(actions)) == 1


def test_session_older_than_the_tariff_maximum_is_abnormal() -> None:
    ctx, clock = context(), Clock()
    enter(ctx, clock, "粤B12345")
    clock.advance(timedelta(days=8).total_seconds())
    actions = feed(exit_lane(ctx), clock, *arrive("粤B12345"))
    assert drafts(actions, RecordKind.ABNORMAL_EVENT)[0].payload["event"] == "session_over_max"


def test_back_out_after_payment_reopens_the_session() -> None:
    ctx, clock = context(), Clock()
    enter(ctx, clock, "粤B12345")
    clock.advance(600)
    lane = exit_lane(ctx)
    feed(lane, clock, *arrive("粤B12345"))
    assert ctx.park.occupancy["small"] == 0
    actions = feed(lane, clock, LoopChanged(Loop.ARMING, False), Tick(), step=0.5)
    assert [d.payload["event"] for d in drafts(actions)[:2]] == ["reopened", "back_out"]
    assert ctx.park.occupancy["small"] == 1


def test_manual_open_is_recorded_with_the_amount_it_waived() -> None:
    ctx, clock = context(), Clock()
    enter(ctx, clock, "粤B12345")
    clock.advance(3 * 3600)
    lane = exit_lane(ctx)
    feed(lane, clock, *arrive("粤B12345"))
    actions = feed(lane, clock, ManualOpen(operator="c-7", reason="payment terminal down"))
    assert_open_is_justified(actions)
    assert drafts(actions, RecordKind.MANUAL_ACTION)[0].payload["operator"] == "c-7"
    assert drafts(actions, RecordKind.TRANSACTION)[0].payload["due"] == 2000
