"""Latency of the Modbus I/O driver against the simulated I/O module, over a pseudo-terminal at 115200 baud and
over TCP (RTU over TCP):

* input change -> driver event: an input flips in the simulated lane at a random moment; the time until the
  driver's listener gets the event. It is split into the wait for the next poll (up to one poll interval) and
  what follows the read that saw the change (wire time + processing); the goal is that the latter minus the wire
  time stays under 2 ms.
* command -> simulator sees it: from calling ``hold_open()`` to the simulated module receiving the coil write.

Run: ``.venv/bin/python benchmarks/bench_drivers_io.py [--samples 200] [--json FILE]``
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time

from figures import Recorder, add_json_argument

from drivers.modbus import BarrierChanged, ModbusIoConfig, ModbusIoModule, ModbusLink
from drivers.modbus.events import ModbusEvent
from simulators.barrier import BarrierModel, LaneModel
from simulators.io_module import IoModuleSimulator
from simulators.pty import PtyLink

BAUD = 115200
POLL_MS = 20
# 02 read: request 8 bytes, response 6 bytes (one data byte); 05 write: 8 bytes each way. The simulator reads the
# lane when the request has arrived, so only the response's wire time lies between that read and the event.
REQUEST_BYTES, RESPONSE_BYTES, WRITE_BYTES = 8, 6, 8


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def ms(value: float) -> str:
    return f"{value * 1000:6.2f} ms"


async def measure(kind: str, samples: int, recorder: Recorder) -> None:
    lane = LaneModel(BarrierModel(now=time.monotonic()))
    sim = IoModuleSimulator(lane)
    serving = sim.serving()
    link: PtyLink | None = None
    if kind == "pty":
        link = PtyLink("bench", baudrate=BAUD).open()
        await serving.serve_serial(link.device_port, baudrate=BAUD)
        modbus_link = ModbusLink(link.host_port, baudrate=BAUD)
    else:
        port = await serving.serve_tcp()
        modbus_link = ModbusLink(f"socket://127.0.0.1:{port}")
    driver = ModbusIoModule(ModbusIoConfig("bench", modbus_link, poll_interval_ms=POLL_MS))
    seen: asyncio.Queue[float] = asyncio.Queue()
    reads: list[float] = []
    sim.on_read.append(reads.append)

    ready = asyncio.Event()

    def on_event(event: ModbusEvent) -> None:
        if not isinstance(event, BarrierChanged):
            return
        ready.set()
        if event.previous is not None and event.status.obstacle != event.previous.obstacle:
            seen.put_nowait(time.monotonic())

    driver.add_listener(on_event)
    await driver.start()
    await asyncio.wait_for(ready.wait(), 5)

    total, after_read, poll_wait = [], [], []
    for _ in range(samples):
        await asyncio.sleep(random.uniform(0, POLL_MS / 1000))
        changed = time.monotonic()
        lane.forced_obstacle = not lane.forced_obstacle
        got = await asyncio.wait_for(seen.get(), 2)
        first_read = next(t for t in reads if t >= changed)
        total.append(got - changed)
        poll_wait.append(first_read - changed)
        after_read.append(got - first_read)
        reads.clear()

    commands: list[float] = []
    arrived: asyncio.Queue[float] = asyncio.Queue()
    sim.on_output.append(lambda change: arrived.put_nowait(change.at) if change.point == "hold_open" else None)
    for i in range(samples):
        await asyncio.sleep(random.uniform(0, POLL_MS / 1000))
        sent = time.monotonic()
        await driver.hold_open(i % 2 == 0)
        commands.append(await asyncio.wait_for(arrived.get(), 2) - sent)

    await driver.stop()
    await serving.stop()
    if link is not None:
        link.close()

    wire_request = modbus_link.wire_seconds(REQUEST_BYTES)
    wire_response = modbus_link.wire_seconds(RESPONSE_BYTES)
    wire_write = modbus_link.wire_seconds(WRITE_BYTES)
    medium = f"{BAUD} baud 8N1" if kind == "pty" else "RTU over TCP, localhost"
    print(f"--- {kind}: {medium}, poll {POLL_MS} ms")
    print(f"wire time: read request {ms(wire_request)} + response {ms(wire_response)}, write {ms(wire_write)}")
    print(f"input change -> event      p50 {ms(pct(total, 0.5))}   p99 {ms(pct(total, 0.99))}   (n={samples})")
    print(f"  poll wait + request wire p50 {ms(pct(poll_wait, 0.5))}   p99 {ms(pct(poll_wait, 0.99))}")
    print(f"  device read -> event     p50 {ms(pct(after_read, 0.5))}   p99 {ms(pct(after_read, 0.99))}")
    beyond = [a - wire_response for a in after_read]
    print(f"  beyond poll + wire       p50 {ms(pct(beyond, 0.5))}   p99 {ms(pct(beyond, 0.99))}   (goal < 2 ms)")
    print(f"command -> simulator sees  p50 {ms(pct(commands, 0.5))}   p99 {ms(pct(commands, 0.99))}")
    beyond_cmd = [c - wire_write for c in commands]
    print(f"  beyond wire              p50 {ms(pct(beyond_cmd, 0.5))}   p99 {ms(pct(beyond_cmd, 0.99))}")
    print(f"  mean {ms(statistics.fmean(commands))} (a command may wait for a poll already on the wire)")
    where = f"Modbus {medium}"
    note = f"n={samples}, poll {POLL_MS} ms"
    recorder.add(f"input change -> driver event p50, {where}", pct(total, 0.5) * 1000, "ms",
                 note=note + " (poll wait in)")  # fmt: skip
    recorder.add(f"device read -> driver event p99 beyond wire, {where}", pct(beyond, 0.99) * 1000, "ms",
                 goal="< 2 ms", met=pct(beyond, 0.99) < 0.002, note=note)  # fmt: skip
    serial = kind == "pty"
    recorder.add(f"command -> device sees it p50, {where}", pct(commands, 0.5) * 1000, "ms",
                 peer="write wire time" if serial else "", peer_value=wire_write * 1000 if serial else None,
                 note=note)  # fmt: skip


async def main(samples: int, recorder: Recorder) -> None:
    for kind in ("pty", "tcp"):
        await measure(kind, samples, recorder)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--samples", type=int, default=200)
    add_json_argument(parser)
    args = parser.parse_args()
    recorder = Recorder("drivers io")
    asyncio.run(main(args.samples, recorder))
    recorder.save(args.json)
