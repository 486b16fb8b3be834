"""A card central stopped (lost, revoked, replaced) is refused for what it is, never taken for an unknown card."""

from __future__ import annotations

import pytest

from edge.lanes.actions import Alert, Display, Voice
from edge.lanes.events import CardPresented
from edge.lanes.lane import Phase
from parking.wire import CardStatus, RecordKind
from tests.edge.kit import Clock, a_card, a_pass, arrive, context, drafts, entry_lane, exit_lane, feed, of_type, opens


@pytest.mark.parametrize(
    ("status", "shown"),
    [(CardStatus.LOST, "此卡已挂失"), (CardStatus.REVOKED, "此卡已注销"), (CardStatus.REPLACED, "此卡已换新")],
)
def test_a_stopped_card_is_refused_at_an_unattended_entry_with_its_state_shown(status: CardStatus, shown: str) -> None:
    ctx = context(cards=[a_card("123:45678", status)])
    lane, clock = entry_lane(ctx, attended=False), Clock()
    assert feed(lane, clock, *arrive("粤B12345", confidence=0.3)) == []  # no usable plate: the card decides
    actions = feed(lane, clock, CardPresented("123:45678"))
    assert opens(actions) == []
    assert lane.phase is Phase.DENIED
    assert drafts(actions, RecordKind.SESSION) == []  # not let in as a temporary vehicle
    (denied,) = drafts(actions, RecordKind.ABNORMAL_EVENT)
    assert denied.payload["event"] == "entry_denied"
    assert denied.payload["code"] == f"{status.value}_card"
    assert denied.payload["reason"] == f"{status.value} card 123:45678 presented at lane in-1"
    assert (denied.payload["card_id"], denied.payload["holder"], denied.payload["card_status"]) == (
        "card-123:45678", "李女士", status.value
    )  # fmt: skip
    assert of_type(actions, Display)[0].lines == ("123:45678", shown, "请联系管理处")
    assert of_type(actions, Voice)[0].text == shown
    (alert,) = of_type(actions, Alert)
    assert (alert.kind, alert.details["card"]) == ("stopped_card", "123:45678")


def test_a_lost_card_is_refused_even_with_the_plate_of_a_pass_read() -> None:
    """The card says who presents it: central took it off its passes when it was reported lost."""
    ctx = context(passes=[a_pass("粤B3R7K2")], cards=[a_card("9:1", CardStatus.LOST)])
    lane, clock = entry_lane(ctx), Clock()
    feed(lane, clock, CardPresented("9:1"))
    actions = feed(lane, clock, *arrive("粤B3R7K2"))
    assert opens(actions) == []
    assert drafts(actions, RecordKind.ABNORMAL_EVENT)[0].payload["code"] == "lost_card"


def test_an_active_card_still_enters_and_an_unlisted_one_enters_as_temporary() -> None:
    ctx = context(cards=[a_card("1:2")])
    for number, reason in (("1:2", "access card without a pass"), ("7:7", "card not on any list")):
        lane, clock = entry_lane(ctx), Clock()
        feed(lane, clock, *arrive(None))
        actions = feed(lane, clock, CardPresented(number))
        (session,) = drafts(actions, RecordKind.SESSION)
        assert (session.payload["session_kind"], session.payload["decision"]) == ("temporary", reason)
        ctx.park.close(session.payload["session"])


def test_a_stopped_card_at_the_exit_is_recorded_and_alerted_and_the_vehicle_pays() -> None:
    ctx = context(cards=[a_card("5:5", CardStatus.REVOKED)])
    lane, clock = exit_lane(ctx), Clock()
    feed(lane, clock, *arrive(None))
    actions = feed(lane, clock, CardPresented("5:5"))
    events = [d.payload["event"] for d in drafts(actions, RecordKind.ABNORMAL_EVENT)]
    assert events[0] == "stopped_card_at_exit"
    assert of_type(actions, Alert)[0].kind == "stopped_card"
    assert opens(actions) == []
    assert lane.phase is Phase.WAITING  # no entry record: the lost-ticket fee is due
