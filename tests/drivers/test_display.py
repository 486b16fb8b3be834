"""The line grammar and the display protocol (pure), then the display driver against its simulator over a real
pseudo-terminal and TCP."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.display import (
    DisplayError,
    DisplayFault,
    DisplayProtocolError,
    DisplayRefusedError,
    DisplayTimeoutError,
    LineLinkConfig,
    SerialTextDisplay,
)
from drivers.display.protocol import Say, Show, command_line, parse_command
from drivers.errors import DriverError
from drivers.health import Health, HealthChange
from drivers.serial_line.line import MAX_LINE, Line, LineDecoder, clean_text, encode_line, parse_line
from simulators.display import DisplaySimulator
from simulators.pty import PtyLink


def test_golden_lines() -> None:
    assert encode_line(Line(12, "SHOW", "1 green 粤B3R7K2")) == "12 SHOW 1 green 粤B3R7K2\n".encode()
    assert parse_line(b"12 OK\r") == Line(12, "OK")
    assert parse_line(b"0 FAULT LED module 3 dead") == Line(0, "FAULT", "LED module 3 dead")
    assert command_line(5, Say("请缴费 12.50 元")) == Line(5, "SAY", "请缴费 12.50 元")


def test_control_characters_never_reach_the_wire() -> None:
    line = command_line(1, Show(2, "red", "evil\nline\x00"))
    assert line.rest == "2 red evil line"
    with pytest.raises(DisplayProtocolError):
        encode_line(Line(1, "SAY", "a\nb"), DisplayProtocolError)


def test_long_text_is_cut_on_a_character() -> None:
    cut = clean_text("停" * 100, max_bytes=200)
    assert cut == "停" * 66  # 3 bytes each; never half a character


@pytest.mark.parametrize(
    "raw", [b"", b"x OK", b"12", b"12 ok", b"123456 OK", b"\xff\xfe OK", b"1 SHOW\x01", b"1 " + b"A" * 20]
)
def test_bad_lines_raise_the_family_error(raw: bytes) -> None:
    with pytest.raises(DisplayProtocolError):
        parse_line(raw, DisplayProtocolError)


@pytest.mark.parametrize("rest", ["9 green x", "1 purple x", "x green y", ""])
def test_device_side_refuses_bad_show(rest: str) -> None:
    with pytest.raises(DisplayProtocolError):
        parse_command(Line(1, "SHOW", rest))


@given(
    seq=st.integers(0, 9999),
    keyword=st.from_regex(r"[A-Z]{2,16}", fullmatch=True),
    rest=st.text(max_size=100).map(clean_text).map(lambda t: t.strip(" ")),
)
def test_lines_round_trip(seq: int, keyword: str, rest: str) -> None:
    data = encode_line(Line(seq, keyword, rest))
    decoder = LineDecoder()
    split = len(data) // 2
    assert decoder.feed(data[:split]) + decoder.feed(data[split:]) == [Line(seq, keyword, rest)]


@given(st.binary(max_size=600))
def test_any_bytes_give_lines_or_family_errors(data: bytes) -> None:
    decoder = LineDecoder(DisplayProtocolError)
    for item in decoder.feed(data) + decoder.feed(b"\n"):
        assert isinstance(item, Line | DisplayProtocolError)
        if isinstance(item, Line):
            parse_command_safely(item)


def parse_command_safely(line: Line) -> None:
    with contextlib.suppress(DisplayError):
        parse_command(line)


def test_an_over_long_line_is_dropped_and_the_next_one_kept() -> None:
    decoder = LineDecoder(DisplayProtocolError)
    out = decoder.feed(b"1 SAY " + b"x" * (MAX_LINE + 10)) + decoder.feed(b"tail\n2 OK\n")
    assert len(out) == 2
    assert isinstance(out[0], DisplayProtocolError)
    assert out[1] == Line(2, "OK")


# Found by tests/drivers/test_codec_fuzz.py: a row in non-ASCII digits crashed the display side with a ValueError
# ("²") or was read as a row ("٣"); a line of 512 bytes before its LF was accepted, though no encoder could send it.
@pytest.mark.parametrize("row", ["²", "٣", "１"])
def test_a_row_in_other_digits_is_refused(row: str) -> None:
    with pytest.raises(DisplayProtocolError, match=r"ROW .* out of range"):
        parse_command(Line(1, "SHOW", f"{row} green x"))


def test_the_line_limit_counts_the_lf() -> None:
    longest = Line(1, "SAY", "x" * (MAX_LINE - len("1 SAY ") - 1))
    data = encode_line(longest)
    assert len(data) == MAX_LINE
    assert LineDecoder().feed(data) == [longest]
    out = LineDecoder(DisplayProtocolError).feed(data[:-1] + b"y\n")
    assert len(out) == 1
    assert isinstance(out[0], DisplayProtocolError)
    assert "513 bytes with its LF exceeds 512" in str(out[0])


# ------------------------------------------------------------------------------------------ against the simulator


async def _until(check: Callable[[], bool], within: float = 2.0) -> None:
    """Wait until ``check()`` holds; fail if it does not within ``within`` seconds."""
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within} s")
        await asyncio.sleep(0.01)


@pytest.fixture(params=["pty", "tcp"])
async def display_pair(request: pytest.FixtureRequest) -> AsyncIterator[tuple[DisplaySimulator, SerialTextDisplay]]:
    sim = DisplaySimulator()
    link = None
    if request.param == "pty":
        link = PtyLink("display", baudrate=9600).open()
        await sim.server.serve_serial(link.device_port, 9600)
        url = link.host_port
    else:
        url = f"socket://127.0.0.1:{await sim.server.serve_tcp()}"
    driver = SerialTextDisplay(LineLinkConfig("lane-1-display", url, timeout_ms=300, keepalive_ms=200))
    await driver.start()
    await asyncio.wait_for(driver.wait_connected(), 3)
    try:
        yield sim, driver
    finally:
        await driver.stop()
        await sim.server.stop()
        if link is not None:
            link.close()


async def test_show_and_say_reach_the_display(display_pair: tuple[DisplaySimulator, SerialTextDisplay]) -> None:
    sim, driver = display_pair
    await driver.show(["粤B3R7K2", "请缴费 12.50 元"], colour="yellow")
    await driver.say("一路顺风")
    assert sim.text() == ["粤B3R7K2", "请缴费 12.50 元"]
    assert sim.rows[1][0] == "yellow"
    assert sim.spoken == ["一路顺风"]
    await driver.show(["欢迎光临"])
    assert sim.text() == ["欢迎光临"]


async def test_refusal_and_fault(display_pair: tuple[DisplaySimulator, SerialTextDisplay]) -> None:
    sim, driver = display_pair
    with pytest.raises(DisplayRefusedError, match="ROW 9"):
        await driver.request("SHOW", "9 green x")
    events: list[object] = []
    driver.add_listener(events.append)
    sim.fault("LED module 3 dead")
    await _until(lambda: driver.health.health is Health.FAULT)
    assert any(isinstance(e, DisplayFault) and e.reason == "LED module 3 dead" for e in events)


async def test_a_silent_display_times_out_then_goes_offline() -> None:
    sim = DisplaySimulator()
    port = await sim.server.serve_tcp()
    driver = SerialTextDisplay(LineLinkConfig("mute", f"socket://127.0.0.1:{port}", timeout_ms=150, keepalive_ms=100))
    await driver.start()
    await asyncio.wait_for(driver.wait_connected(), 3)
    sim.server.silent = True
    with pytest.raises(DisplayTimeoutError) as caught:
        await driver.say("hello")
    assert isinstance(caught.value, TimeoutError)
    assert isinstance(caught.value, DriverError)
    await _until(lambda: driver.health.health is Health.OFFLINE, within=1.0)
    sim.server.silent = False
    await asyncio.wait_for(driver.wait_connected(), 3)
    await driver.stop()
    await sim.server.stop()


async def test_unplug_and_replug_over_pty() -> None:
    sim = DisplaySimulator()
    with PtyLink("usb-display") as link:
        await sim.server.serve_serial(link.device_port)
        driver = SerialTextDisplay(LineLinkConfig("d", link.host_port, timeout_ms=300, keepalive_ms=200))
        changes: list[HealthChange] = []
        driver.add_listener(lambda e: changes.append(e) if isinstance(e, HealthChange) else None)
        await driver.start()
        await asyncio.wait_for(driver.wait_connected(), 3)
        link.unplug()
        await _until(lambda: driver.health.health is Health.OFFLINE, within=1.0)
        await asyncio.sleep(0.3)
        link.replug()
        await asyncio.wait_for(driver.wait_connected(), 4)
        await driver.show(["back"])
        assert sim.text() == ["back"]
        sim.rows.clear()  # the display power-cycles: blank, then READY
        sim.server.broadcast(Line(0, "READY"))
        await _until(lambda: sim.text() == ["back"])
        await driver.stop()
        await sim.server.stop()
