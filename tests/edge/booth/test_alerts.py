"""The booth's alert list on the desk alone (real lanes, a real journal): what raises an alert, that it stays until a
collector acknowledges it, that the acknowledgement and a fault report are journaled, and that the list survives a
restart of the edge."""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from pathlib import Path

import pytest

from drivers.health import Health, HealthChange
from edge.booth.alerts import OPEN_KEPT, alerts_path, raise_alert, save_alerts
from edge.booth.booth import Booth
from edge.booth.desk import BoothDesk, DeskError
from edge.booth.operators import OperatorStore, Role
from edge.lanes.lane import LaneContext
from edge.store.journal import Journal
from tests.edge.booth.test_desk import FAST, LocalLanes, Wall
from tests.edge.kit import CAR_PARK, Clock, arrive, context, cross, entry_lane, exit_lane


def desk_on(tmp_path: Path, ctx: LaneContext, clock: Clock) -> tuple[BoothDesk, LocalLanes]:
    """A desk over an entry and an exit lane, its alert list kept beside the journal (as the daemon's is)."""
    journal = Journal(tmp_path / "journal.sqlite3", CAR_PARK)
    lanes = LocalLanes([entry_lane(ctx), exit_lane(ctx)], ctx.park, journal, clock)
    operators = OperatorStore(sqlite3.connect(":memory:"), clock=Wall(clock), hasher=FAST)
    operators.add("c01", "李收费", Role.COLLECTOR, "2468", by="admin")
    desk = BoothDesk(lanes, journal, Booth("B1", CAR_PARK, clock=Wall(clock)), operators, Wall(clock),
                     alerts_file=alerts_path(journal.path, "B1"))  # fmt: skip
    lanes.listeners.append(desk.committed)
    lanes.desk = desk
    return desk, lanes


def waiting(desk: BoothDesk) -> list[tuple[str, str | None]]:
    return [(a["kind"], a["lane"]) for a in desk.lane_alerts if a["acknowledged_by"] is None]


def journaled(desk: BoothDesk, action: str) -> list[tuple[str | None, str, dict[str, object]]]:
    rows = desk.journal.rows("SELECT lane, operator, payload FROM manual_actions WHERE action = ?", (action,))  # type: ignore[attr-defined]
    return [(lane, who, json.loads(payload)) for lane, who, payload in rows]


def change(device: str, health: Health, reason: str) -> HealthChange:
    return HealthChange(device, health, reason, time.time())


async def test_a_full_car_park_refusal_is_an_alert_acknowledged_once(tmp_path: Path) -> None:
    clock = Clock()
    desk, lanes = desk_on(tmp_path, context(capacity={"small": 1, "large": 1}), clock)
    for event in (*arrive("粤B11111"), *cross(), *arrive("粤B22222")):
        await lanes.feed("in-1", event)
    assert waiting(desk) == [("car_park_full", "in-1")]
    (alert,) = desk.lane_alerts
    assert "粤B22222" in alert["message"]

    done = await desk.acknowledge_alert("c01", alert["id"])
    assert (done["acknowledged_by"], done["acknowledged_at"]) == ("c01", clock.now.isoformat())
    assert waiting(desk) == []
    with pytest.raises(DeskError) as refused:
        await desk.acknowledge_alert("c01", alert["id"])
    assert refused.value.code == "alert.unknown"
    ((lane, who, payload),) = journaled(desk, "acknowledge_alert")
    assert (lane, who, payload["alert"], payload["alert_kind"], payload["booth"]) == (
        "in-1", "c01", alert["id"], "car_park_full", "B1"
    )  # fmt: skip
    assert desk.booth.current is None  # the acknowledgement is no shift record: the booth rebuilds as before
    desk.restore()


async def test_devices_going_offline_or_faulted_and_a_printer_out_of_paper_are_alerts(tmp_path: Path) -> None:
    desk, _ = desk_on(tmp_path, context(), Clock())
    desk.device_changed(change("out-printer", Health.ONLINE, "ready"))
    desk.device_changed(change("out-printer", Health.FAULT, "paper out"))
    desk.device_changed(change("out-printer", Health.FAULT, "paper out"))  # the same fault: one alert
    desk.device_changed(change("in-cam", Health.OFFLINE, "no event or heartbeat for 60 s"))
    desk.device_changed(change("in-cam", Health.OFFLINE, "listener stopped"))  # still offline: no new alert
    desk.device_changed(change("in-ld", Health.DEGRADED, "retrying"))  # talking: no alert
    desk.device_changed(change("in-ld", Health.FAULT, "loop open circuit"))
    assert [a["kind"] for a in desk.lane_alerts] == ["printer_out_of_paper", "device_offline", "device_fault"]
    paper = desk.lane_alerts[0]
    assert paper["details"] == {"device": "out-printer", "health": "fault", "reason": "paper out"}

    await desk.acknowledge_alert("c01", paper["id"])
    desk.device_changed(change("out-printer", Health.ONLINE, "printed"))
    desk.device_changed(change("out-printer", Health.FAULT, "paper out"))  # out of paper again: a new alert
    assert [a["kind"] for a in desk.lane_alerts if a["acknowledged_by"] is None] == [
        "device_offline", "device_fault", "printer_out_of_paper"
    ]  # fmt: skip


async def test_the_alert_list_survives_a_restart_of_the_edge(tmp_path: Path) -> None:
    clock = Clock()
    desk, _ = desk_on(tmp_path, context(), clock)
    desk.central_unreachable(7.2, "ingest: ConnectError: connection refused")
    desk.device_changed(change("in-cam", Health.OFFLINE, "no event or heartbeat for 60 s"))
    first = desk.lane_alerts[0]
    assert (first["kind"], first["details"]["minutes"]) == ("central_unreachable", 7)
    desk.journal.close()  # type: ignore[attr-defined]

    again, _ = desk_on(tmp_path, context(), clock)
    assert waiting(again) == [("central_unreachable", None), ("device_offline", None)]
    await again.acknowledge_alert("c01", first["id"])
    again.journal.close()  # type: ignore[attr-defined]

    third, _ = desk_on(tmp_path, context(), clock)
    assert waiting(third) == [("device_offline", None)]
    assert third.lane_alerts[0]["acknowledged_by"] == "c01"


async def test_a_fault_report_names_the_lane_the_device_and_the_note(tmp_path: Path) -> None:
    desk, _ = desk_on(tmp_path, context(), Clock())
    with pytest.raises(DeskError) as unknown:
        await desk.report_fault("c01", "out-9", None, "barrier arm bent")
    assert unknown.value.code == "lane.unknown"
    record = await desk.report_fault("c01", "out-1", None, "barrier arm bent")
    ((lane, who, payload),) = journaled(desk, "fault_report")
    assert (lane, who, payload["note"], payload["device"], payload["booth"]) == (
        "out-1", "c01", "barrier arm bent", None, "B1"
    )  # fmt: skip
    assert desk.journal.count("manual_actions", "id = ?", (record,)) == 1  # type: ignore[attr-defined]


def test_an_alert_flood_keeps_the_latest_unacknowledged() -> None:
    alerts: list[dict[str, object]] = []
    for n in range(OPEN_KEPT + 5):
        raise_alert(alerts, "tailgating", "out-1", f"#{n}", Clock().now)
    assert len(alerts) == OPEN_KEPT
    assert alerts[0]["message"] == "#5"


def test_alerts_that_cannot_be_kept_are_logged_in_one_line_and_leave_no_partial_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocked = tmp_path / "alerts-dir"
    blocked.mkdir()
    path = blocked / "booth-alerts-B1.json"
    path.mkdir()  # the list's own name taken by a folder: the replace fails after the partial file is written
    with caplog.at_level(logging.WARNING, logger="edge.booth.alerts"):
        save_alerts(path, [{"id": "a1", "kind": "journal"}])
    (warning,) = [r for r in caplog.records if r.name == "edge.booth.alerts"]
    assert str(path) in warning.getMessage()
    assert warning.exc_info is None
    assert sorted(p.name for p in blocked.iterdir()) == ["booth-alerts-B1.json"]  # the .part file is gone
