"""Identification on its own: a plate consensus and a card against the car park's lists, in the order that matters."""

from __future__ import annotations

from edge.lanes.directory import Directory
from edge.lanes.identify import Identity, IdentityKind, identify, pass_lines
from parking.plates import Consensus
from parking.wire import VehicleList
from tests.edge.kit import CAR_PARK, T0, a_pass, a_vehicle


def who(directory: Directory, plate: str | None, confidence: float = 0.95, card: str | None = None) -> Identity:
    read = Consensus(plate, confidence, 1, 1) if plate is not None else None
    return identify(directory, read, card, T0, lane="in-1", min_confidence=0.7)


def test_a_blacklisted_plate_wins_over_its_pass() -> None:
    directory = Directory(
        CAR_PARK, passes=[a_pass("粤B3R7K2")], vehicles=[a_vehicle("粤B3R7K2", VehicleList.BLACKLIST, "stolen")]
    )
    found = who(directory, "粤B3R7K2")
    assert found.kind is IdentityKind.BLACKLIST
    assert found.reason.startswith("blacklist: stolen")
    assert found.evidence()["list_entry"] == "blacklist-粤B3R7K2"


def test_a_pass_by_plate_a_look_alike_read_and_by_card() -> None:
    directory = Directory(CAR_PARK, passes=[a_pass("粤B3R7K2", days_left=5, card="123:45678")])
    by_plate = who(directory, "粤B3R7K2")
    assert (by_plate.kind, by_plate.days_left, by_plate.match) == (IdentityKind.PASS, 5, 0.95)
    look_alike = who(directory, "粤B3R7KZ")  # Z for 2: the stored plate is named, with a lower match
    assert look_alike.kind is IdentityKind.PASS
    assert look_alike.plate == "粤B3R7K2"
    assert look_alike.match < by_plate.match
    by_card = who(directory, None, card="123:45678")
    assert (by_card.kind, by_card.match, by_card.card) == (IdentityKind.PASS, 1.0, "123:45678")


def test_an_expired_pass_makes_a_paying_vehicle_that_is_told_why() -> None:
    found = who(Directory(CAR_PARK, passes=[a_pass("粤B3R7K2", days_left=-3)]), "粤B3R7K2")
    assert found.kind is IdentityKind.EXPIRED_PASS
    assert found.pays
    assert found.reason


def test_free_and_special_lists_then_temporary_then_unknown() -> None:
    directory = Directory(
        CAR_PARK,
        vehicles=[a_vehicle("粤B11111", VehicleList.FREE, "police"), a_vehicle("粤B22222", VehicleList.SPECIAL, "vip")],
    )
    assert who(directory, "粤B11111").kind is IdentityKind.FREE
    assert who(directory, "粤B22222").reason == "special vehicle: vip"
    temporary = who(directory, "粤B99999")
    assert (temporary.kind, temporary.reason) == (IdentityKind.TEMPORARY, "plate not on any list")
    assert who(directory, None, card="9:9").reason == "card not on any list"
    unknown = who(directory, None)
    assert (unknown.kind, unknown.pays) == (IdentityKind.UNKNOWN, True)


def test_a_weak_read_does_not_match_a_look_alike_pass() -> None:
    directory = Directory(CAR_PARK, passes=[a_pass("粤B3R7K2")])
    assert who(directory, "粤B3R7KZ", confidence=0.71).kind is IdentityKind.TEMPORARY


def test_the_pass_greeting_reminds_near_the_end_only() -> None:
    assert pass_lines("粤B3R7K2", 20) == ("粤B3R7K2", "月租车 剩余20天")
    assert pass_lines("粤B3R7K2", 7)[-1] == "请及时续租"
