"""What the console's screens are sent, from a desk over real lanes (no daemon, no web server)."""

from __future__ import annotations

from pathlib import Path

from edge.console.views import lane_view, money, shift_view, state_view
from tests.edge.booth.test_desk import FLOAT, make_desk, vehicle_waiting
from tests.edge.kit import Clock, a_pass, context


async def test_a_vehicle_waiting_at_the_exit_shows_its_plate_fee_and_lines(tmp_path: Path) -> None:
    ctx, clock = context(), Clock()
    desk, lanes = make_desk(tmp_path, ctx, clock)
    await vehicle_waiting(desk, lanes, ctx, clock, "粤B12345")

    view = lane_view(desk, "out-1")

    assert (view["name"], view["phase"], view["staffed"], view["out_of_service"]) == (
        "lane out-1",
        "waiting",
        True,
        None,
    )
    assert view["vehicle"]["plate"] == "粤B12345"
    assert view["vehicle"]["entry_at"] == "2026-11-27 09:00:00"  # the car park's zone (UTC+8), as text
    assert view["due"]["minor"] == 1500
    assert view["due"]["text"] == money(desk, 1500)["text"]
    assert [line["minor"] for line in view["due"]["lines"]] == [1500]


async def test_the_state_names_the_car_park_and_the_shift(tmp_path: Path) -> None:
    desk, _ = make_desk(tmp_path, context(), Clock())
    assert shift_view(desk)["state"] == "none"
    await desk.open_shift("c01", FLOAT, 100, acknowledge_handover=False)

    state = state_view(desk)

    assert [lane["id"] for lane in state["lanes"]] == ["out-1"]
    assert state["lanes"][0]["vehicle"] is None  # an idle lane with no read shows no vehicle
    assert state["shift"]["state"] == "open"
    assert state["shift"]["shift"]["operator"] == "c01"
    assert state["zone"] == "Asia/Shanghai"


async def test_a_pass_holder_at_the_exit_shows_the_days_left_to_remind_them_to_renew(tmp_path: Path) -> None:
    ctx, clock = context(passes=[a_pass("粤B3R7K2", days_left=5)]), Clock()
    desk, lanes = make_desk(tmp_path, ctx, clock)
    await vehicle_waiting(desk, lanes, ctx, clock, "粤B3R7K2")  # a pass holder: the exit opens by itself

    vehicle = lane_view(desk, "out-1")["vehicle"]

    assert (vehicle["plate"], vehicle["identity"], vehicle["days_left"]) == ("粤B3R7K2", "pass", 5)


async def test_a_temporary_vehicle_has_no_days_left(tmp_path: Path) -> None:
    ctx, clock = context(), Clock()
    desk, lanes = make_desk(tmp_path, ctx, clock)
    await vehicle_waiting(desk, lanes, ctx, clock, "粤B12345")
    assert lane_view(desk, "out-1")["vehicle"]["days_left"] is None
