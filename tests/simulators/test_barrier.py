"""The lane physics, driven by an explicit clock: no sleeping, a lane's worth of seconds in microseconds."""

from __future__ import annotations

import pytest

from simulators.barrier import BarrierConfig, BarrierModel, LaneModel, LoopModel, Motion


def lane(travel: float = 2.0) -> LaneModel:
    model = LaneModel(BarrierModel(BarrierConfig(travel_time_s=travel)))
    model.advance(0.0)
    return model


def test_travel_time_is_bounded_like_real_barriers() -> None:
    with pytest.raises(ValueError, match="outside"):
        BarrierConfig(travel_time_s=0.2)
    with pytest.raises(ValueError, match="outside"):
        BarrierConfig(travel_time_s=7)
    assert BarrierConfig(travel_time_s=0.2, allow_short_travel=True).travel_time_s == 0.2


def test_limit_switches_follow_the_boom() -> None:
    model = lane(travel=2.0)
    assert model.inputs(0.0)["closed_limit"]
    model.contact(1.0, "open")
    half = model.inputs(2.0)
    assert not half["closed_limit"]
    assert not half["open_limit"]
    assert model.barrier.position == pytest.approx(0.5)
    assert model.inputs(3.01)["open_limit"]
    model.contact(4.0, "close")
    assert model.inputs(6.01)["closed_limit"]
    assert model.barrier.motion is Motion.STOPPED


def test_closing_boom_reverses_on_an_obstacle_and_refuses_to_close_over_it() -> None:
    model = lane()
    model.contact(0.0, "open")
    model.advance(3.0)
    model.contact(3.0, "close")
    model.advance(3.5)
    model.forced_obstacle = True
    model.advance(3.6)
    assert model.barrier.reversals == 1
    assert model.barrier.motion.value == "opening"
    assert model.inputs(6.0)["open_limit"]
    model.contact(6.0, "close")
    assert model.barrier.motion.value == "stopped"  # still blocked: the close is ignored
    model.forced_obstacle = False
    model.contact(6.1, "close")
    assert model.inputs(9.0)["closed_limit"]


def test_motor_watchdog_trips_on_a_jammed_boom() -> None:
    model = lane(travel=2.0)
    model.barrier.jammed = True
    model.contact(0.0, "open")
    assert not model.inputs(3.0)["fault"]
    assert model.inputs(3.6)["fault"]  # 1.5 x 2 s + 0.5 s
    assert model.barrier.fault is not None
    assert "without reaching a limit" in model.barrier.fault
    model.contact(4.0, "open")
    assert model.barrier.motion is Motion.STOPPED  # a faulted controller ignores commands
    model.barrier.jammed = False
    model.barrier.clear_fault(5.0)
    model.contact(5.0, "open")
    assert model.inputs(8.0)["open_limit"]


def test_hold_open_keeps_it_open_until_released() -> None:
    model = lane()
    model.contact(0.0, "hold")
    model.contact(3.0, "close")
    assert model.inputs(6.0)["open_limit"]
    model.contact(6.0, "release")
    model.contact(6.0, "close")
    assert model.inputs(9.0)["closed_limit"]


def test_a_vehicle_waits_at_the_barrier_then_crosses_arming_then_safety() -> None:
    model = lane(travel=1.0)
    model.add_vehicle(0.0, speed=5.0)
    seen: list[tuple[str, bool]] = []
    last = model.inputs(0.0)
    t = 0.0
    opened = False
    while t < 12.0:
        t += 0.05
        now = model.inputs(t)
        for name in ("arming_loop", "safety_loop"):
            if now[name] != last[name]:
                seen.append((name, now[name]))
        if t > 4.0 and not opened:
            assert model.vehicles[0].front == pytest.approx(2.5)  # waited at the stop line
            model.contact(t, "open")
            opened = True
        last = now
    assert seen == [
        ("arming_loop", True),
        ("safety_loop", True),
        ("arming_loop", False),
        ("safety_loop", False),
    ]
    assert model.passed == 1
    assert (model.arming.count, model.safety.count) == (1, 1)


def test_a_vehicle_backs_out_from_the_stop_line_without_reaching_the_safety_loop() -> None:
    model = lane(travel=1.0)
    vehicle = model.add_vehicle(0.0, speed=5.0)
    follower = model.add_vehicle(0.0, speed=5.0, front=-9.0)
    assert model.inputs(3.0)["arming_loop"]
    assert vehicle.front == pytest.approx(2.5)
    model.contact(3.0, "open")
    model.back_out(3.2, vehicle, speed=2.0)  # changes their mind while the boom rises
    seen: list[tuple[float, str, bool]] = []
    last = model.inputs(3.2)
    t = 3.2
    while t < 12.0:
        t += 0.05
        now = model.inputs(t)
        seen += [(t, name, now[name]) for name in ("arming_loop", "safety_loop") if now[name] != last[name]]
        if model.backed_out == 0:
            assert vehicle.front <= 2.5
            assert vehicle.rear >= follower.front + 1.0 - 1e-9  # never backs into the car behind
        last = now
    assert model.safety.count == 0  # the safety loop never saw it
    assert model.passed == 0
    assert vehicle.reversing
    # a car queued behind blocks the way back: the reversing car stops a metre from it, still on the arming loop
    assert model.backed_out == 0
    assert model.inputs(12.0)["arming_loop"]
    assert all(not changed for _, name, changed in seen if name == "safety_loop")


def test_a_vehicle_alone_backs_out_of_the_lane_and_clears_the_arming_loop() -> None:
    model = lane(travel=1.0)
    vehicle = model.add_vehicle(0.0, speed=5.0)
    assert model.inputs(2.0)["arming_loop"]
    model.contact(2.0, "open")
    model.back_out(2.1, vehicle)
    assert model.inputs(2.5)["open_limit"] is False
    assert model.inputs(2.5)["arming_loop"]
    assert not model.inputs(6.0)["arming_loop"]  # 3.5 m back at 2 m/s
    assert not model.inputs(6.0)["safety_loop"]
    assert model.inputs(12.0)["open_limit"]  # the boom stays up until the controller closes it
    assert (model.backed_out, model.passed, model.vehicles) == (1, 0, [])
    assert (model.arming.count, model.safety.count) == (1, 0)


def test_loop_fault_reads_as_presence_and_limited_presence_drops_out() -> None:
    loop = LoopModel("arming_loop", 0, 2, presence_limit_s=300)
    loop.update(0.0, True)
    assert loop.output(299.0)
    assert not loop.output(301.0)
    assert loop.presence_limited(301.0)
    loop.update(302.0, False)
    loop.fault = "short-circuit"
    assert loop.output(303.0)
    assert loop.frequency_hz() > 100_000
