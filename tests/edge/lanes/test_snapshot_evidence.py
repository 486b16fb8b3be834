"""A lane with a snapshot camera names one snapshot as the vehicle's evidence in its records when the reads brought
no picture, and asks for it (a :class:`TakeSnapshot` action) after the records that name it."""

from __future__ import annotations

from edge.lanes.actions import Commit, TakeSnapshot
from edge.lanes.events import ManualOpen
from parking.wire import RecordKind
from tests.edge.kit import Clock, arrive, context, drafts, exit_lane, feed


def test_one_snapshot_per_vehicle_is_named_in_its_records_and_asked_for_after_them() -> None:
    lane, clock = exit_lane(context(), has_snapshot=True), Clock()
    actions = feed(lane, clock, *arrive("粤B99999"))  # no entry record: an abnormal event with evidence
    (abnormal,) = drafts(actions, RecordKind.ABNORMAL_EVENT)
    (take,) = [a for a in actions if isinstance(a, TakeSnapshot)]
    assert abnormal.payload["evidence"] == take.image
    assert take.image.startswith("snapshots/")
    assert actions.index(take) > max(i for i, a in enumerate(actions) if isinstance(a, Commit))
    actions = feed(lane, clock, ManualOpen("c01", "verified by phone"))
    (manual,) = drafts(actions, RecordKind.MANUAL_ACTION)
    assert manual.payload["evidence"] == take.image  # the same vehicle: the same picture, taken once
    assert not [a for a in actions if isinstance(a, TakeSnapshot)]


def test_without_a_snapshot_camera_nothing_is_named_or_asked() -> None:
    lane, clock = exit_lane(context()), Clock()
    actions = feed(lane, clock, *arrive("粤B99999"))
    (abnormal,) = drafts(actions, RecordKind.ABNORMAL_EVENT)
    assert abnormal.payload["evidence"] is None
    assert not [a for a in actions if isinstance(a, TakeSnapshot)]
