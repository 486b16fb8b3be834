"""Latency of the plate camera and card reader drivers against their simulators.

* ISAPI codec: decode time of a multipart push with two rendered JPEGs (pure codec, no I/O).
* HTTP: camera simulator POST (multipart, ~60 kB) -> PlateRead on the listener's queue, over localhost.
* HTTP under attack: 8 clients posting 140,000-level XML at once (refused): each refusal's time, and how late a
  coroutine that wants to run every 5 ms gets meanwhile (what another lane's decision would wait).
* OSDP: a card presented on the libosdp peripheral -> CardRead on the driver's queue, secure channel, pty at
  115200 baud (includes libosdp's 20 ms refresh and poll cadence: the figure is dominated by the poll interval).
* Wiegand converter: a line written on the pty at 9600 baud -> CardRead (includes ~12 ms wire time for 12 bytes).

Run: ``.venv/bin/python benchmarks/bench_drivers_lpr.py [--n 200] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import aiohttp
from figures import Recorder, add_json_argument

from drivers.lpr.http import HttpCameraConfig, PlateHttpListener, PlateListenerConfig
from drivers.lpr.isapi import decode_isapi
from drivers.osdp.reader import OsdpReader, OsdpReaderConfig
from drivers.wiegand.converter import WiegandConverterConfig, WiegandConverterReader
from simulators.camera import CameraSim
from simulators.card_reader import OsdpCardReaderSim, WiegandConverterSim
from simulators.pty import PtyLink

RECORDER = Recorder("drivers lpr and cards")


def report(name: str, samples: list[float]) -> None:
    ordered = sorted(samples)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
    print(f"{name:<44} n={len(samples):<5} p50 {p50:8.3f} ms   p99 {p99:8.3f} ms")
    RECORDER.add(f"{name} p50", p50, "ms", note=f"n={len(samples)}")
    RECORDER.add(f"{name} p99", p99, "ms", note=f"n={len(samples)}")


def bench_codec(n: int) -> None:
    sim = CameraSim("bench", seed=1)
    body, content_type = sim.isapi_body(sim.read("粤B3R7K2"))
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        decode_isapi(body, content_type=content_type)
        samples.append(time.perf_counter() - started)
    report(f"ISAPI multipart decode ({len(body) // 1024} kB)", samples)


async def bench_http(n: int) -> None:
    sim = CameraSim("bench", seed=2)
    config = PlateListenerConfig((HttpCameraConfig("cam"),), host="127.0.0.1", port=0)
    async with PlateHttpListener(config) as listener:
        url = f"http://127.0.0.1:{listener.port}/lpr/cam"
        body, content_type = sim.isapi_body(sim.read("粤B3R7K2"))
        samples = []
        async with aiohttp.ClientSession() as session:
            for _ in range(n):
                started = time.perf_counter()
                async with session.post(url, data=body, headers={"Content-Type": content_type}) as response:
                    await response.read()
                await listener.events.get()
                samples.append(time.perf_counter() - started)
    report("HTTP push -> PlateRead (localhost)", samples)


async def bench_deep_xml(n: int) -> None:
    deep = b"<EventNotificationAlert>" + b"<a>" * 140_000
    config = PlateListenerConfig((HttpCameraConfig("cam"),), host="127.0.0.1", port=0)
    async with PlateHttpListener(config) as listener:
        url = f"http://127.0.0.1:{listener.port}/lpr/cam"
        stop = asyncio.Event()
        lateness: list[float] = []

        async def probe() -> None:
            while not stop.is_set():
                before = time.perf_counter()
                await asyncio.sleep(0.005)
                lateness.append(time.perf_counter() - before - 0.005)

        probing = asyncio.create_task(probe())
        samples: list[float] = []
        async with aiohttp.ClientSession() as session:

            async def attack() -> None:
                for _ in range(max(1, n // 8)):
                    started = time.perf_counter()
                    async with session.post(url, data=deep) as response:
                        await response.read()
                    samples.append(time.perf_counter() - started)

            await asyncio.gather(*(attack() for _ in range(8)))
        stop.set()
        await probing
    report("deep XML push refused (8 at once)", samples)
    report("event loop lateness during the attack", lateness)


async def bench_osdp(n: int) -> None:
    key = bytes(range(16))
    with PtyLink("bench-osdp", baudrate=115200) as link, OsdpCardReaderSim(
        link.device_port, address=1, scbk=key, baudrate=115200
    ) as sim:  # fmt: skip
        config = OsdpReaderConfig("r", link.host_port, address=1, baudrate=115200, scbk=key)
        async with OsdpReader(config) as reader:
            await reader.wait_online(10)
            samples = []
            for i in range(n):
                started = time.perf_counter()
                sim.present_card(1, i)
                await reader.events.get()
                samples.append(time.perf_counter() - started)
    report("OSDP card presented -> CardRead (secure)", samples)


async def bench_wiegand(n: int) -> None:
    with PtyLink("bench-wg", baudrate=9600) as link:
        sim = WiegandConverterSim(link.device_port)
        async with WiegandConverterReader(WiegandConverterConfig("w", link.host_port)) as reader:
            while reader.health.health.value != "online":  # noqa: ASYNC110  # a benchmark, polling is fine
                await asyncio.sleep(0.01)
            samples = []
            for i in range(n):
                started = time.perf_counter()
                sim.send(i)
                await reader.events.get()
                samples.append(time.perf_counter() - started)
        sim.close()
    report("Wiegand line (9600 baud) -> CardRead", samples)


async def main(n: int) -> None:
    bench_codec(n)
    await bench_http(n)
    await bench_deep_xml(n)
    await bench_osdp(max(20, n // 4))
    await bench_wiegand(n)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200)
    add_json_argument(parser)
    args = parser.parse_args()
    asyncio.run(main(args.n))
    RECORDER.save(args.json)
