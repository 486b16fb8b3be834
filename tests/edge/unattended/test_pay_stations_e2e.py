"""Unattended exits end to end through the daemon, with the exit barrier's I/O module on a serial line (Modbus RTU
over a pseudo-terminal pair, lane physics behind it) and plate reads pushed over HTTP to the cameras' listener.

Pay stations: a kiosk quotes a vehicle by plate or card and pays through the edge's kiosk API with central
unreachable (none is configured); the vehicle leaves by itself within the tariff's grace, and after it pays the
difference at the kiosk while it waits at the exit. Scan-to-pay: the real central (PostgreSQL) and the provider
simulator; the barrier opens through Modbus only after the settlement is in the journal."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from central.core.security import Role
from drivers.lpr import encode_milesight
from edge.daemon import EdgeDaemon
from edge.lanes.actions import Draft
from edge.lanes.lane import Phase
from edge.lanes.park import Session, SessionKind
from edge.site import SiteError, load_site
from parking.ids import new_id
from parking.wire import RecordKind
from simulators.barrier import BarrierConfig, BarrierModel, LaneModel
from simulators.io_module import IoModuleSimulator, ModbusServing
from simulators.pty import PtyLink
from tests.central.conftest import central_engine, role_tokens  # noqa: F401 - fixtures
from tests.central.payment_rig import PaymentRig, payment_rig
from tests.edge.test_daemon import IO_MAP, SimLane, free_port, online, start_sim, until, write_site

BAUD = 115200
PLATE = "粤B3R7K2"
TOKEN = "kiosk-token-0123456789abcdef"
KIOSK = "ps-1"


class Clock:
    """The daemon's clock: real time, moved ahead by the test (the camera's events carry the same time)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


@dataclass
class SerialExit:
    sim: IoModuleSimulator
    serving: ModbusServing
    link: PtyLink

    @property
    def model(self) -> LaneModel:
        return self.sim.lane

    def opened(self) -> int:
        return sum(1 for c in self.sim.output_changes if c.point == "open" and c.active)


@pytest.fixture
async def lanes(tmp_path: Path) -> AsyncIterator[tuple[SimLane, SerialExit]]:
    link = PtyLink("out-io", tmp_path).open()
    barrier = BarrierModel(BarrierConfig(travel_time_s=0.3, allow_short_travel=True), now=time.monotonic())
    sim = IoModuleSimulator(LaneModel(barrier), io_map=IO_MAP)
    serving = sim.serving()
    await serving.serve_serial(link.device_port, baudrate=BAUD)
    entry = await start_sim()
    yield entry, SerialExit(sim, serving, link)
    await serving.stop()
    await entry.serving.stop()
    link.close()


def site_file(tmp_path: Path, lanes: tuple[SimLane, SerialExit], cameras: int, central: str | None,
              edge_token: str | None = None) -> Path:  # fmt: skip
    entry, out = lanes
    path = write_site(tmp_path, entry.port, 1, central, cameras)
    text, count = re.subn(
        r'(\[devices\.out-io\]\nkind = "barrier_io"\ndriver = "modbus_io"\n)connection = \{[^}]*\}',
        rf'\1connection = {{ type = "serial", port = "{out.link.host_port}", baudrate = {BAUD} }}', path.read_text()
    )  # fmt: skip
    assert count == 1
    if edge_token is not None:
        text = re.sub(r'token = "[^"]*"', f'token = "{edge_token}"', text, count=1)
    stations = f'[pay_stations.{KIOSK}]\nname = "Level 1"\ntoken_env = "PARKGATE_TEST_KIOSK_TOKEN"\n\n[tariffs.hourly]'
    path.write_text(text.replace("[tariffs.hourly]", stations, 1))
    return path


@pytest.fixture
def kiosk_token(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("PARKGATE_TEST_KIOSK_TOKEN", TOKEN)
    return TOKEN


async def start_daemon(path: Path, clock: Clock) -> EdgeDaemon:
    daemon = EdgeDaemon(load_site(path), path, metrics_listen="127.0.0.1:0", synchronous="NORMAL",
                        drain_timeout_s=10, clock=clock)  # fmt: skip
    await daemon.start()
    await until(lambda: online(daemon), what="devices online")
    return daemon


async def inside(daemon: EdgeDaemon, hours: float, plate: str = PLATE, card: str | None = None) -> Session:
    """A visitor who entered ``hours`` ago (its entry journaled, as the entry lane would have)."""
    now = daemon.clock()
    session = Session(new_id(), SessionKind.TEMPORARY, "small", now - timedelta(hours=hours), "in-1", plate=plate,
                      card=card)  # fmt: skip
    daemon.park.open(session)
    await daemon.writer.commit([Draft(new_id(), RecordKind.SESSION, "in-1", now,
                                      {"event": "opened", **session.to_payload()})])  # fmt: skip
    return session


async def drive_up(daemon: EdgeDaemon, out: SerialExit, cameras: int, plate: str = PLATE) -> None:
    body = encode_milesight(plate=plate, confidence=0.95, direction="Approach", at=daemon.clock(), device="out-cam")
    async with httpx.AsyncClient() as client:
        answer = await client.post(f"http://127.0.0.1:{cameras}/lpr/out", content=body,
                                   headers={"Content-Type": "application/json"})  # fmt: skip
    assert answer.status_code == 200
    out.model.add_vehicle(time.monotonic(), front=0.0, speed=8.0)


class Kiosk:
    def __init__(self, daemon: EdgeDaemon, token: str) -> None:
        self.client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{daemon.metrics_port}/kiosk/v1", timeout=5,
                                        headers={"Authorization": f"Bearer {token}"})  # fmt: skip

    async def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self.client.request(method, path, **kwargs)

    async def quote(self, **wanted: str) -> dict[str, Any]:
        answer = await self.call("POST", "/quote", json=wanted)
        assert answer.status_code == 200, answer.text
        [vehicle] = answer.json()["vehicles"]
        result: dict[str, Any] = vehicle
        return result

    async def pay(self, session: str, amount: int, reference: str) -> dict[str, Any]:
        answer = await self.call("POST", "/payments", json={"session": session, "amount": amount,
                                                            "reference": reference})  # fmt: skip
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result


def kiosk_payments(daemon: EdgeDaemon) -> list[tuple[str, int, str, str]]:
    rows = daemon.journal.rows(
        "SELECT kind, amount, json_extract(payload, '$.station'), json_extract(payload, '$.terminal_reference') "
        "FROM transactions WHERE json_extract(payload, '$.method') = 'kiosk' ORDER BY at"
    )
    return [tuple(row) for row in rows]


async def through(out: SerialExit, passed: int) -> None:
    await until(lambda: out.model.passed == passed, within=10, what="the vehicle through the exit")
    await until(lambda: out.model.barrier.closed_limit, what="the exit barrier closed")


async def test_a_kiosk_payment_lets_the_vehicle_leave_within_the_grace_with_central_unreachable(
    tmp_path: Path, lanes: tuple[SimLane, SerialExit], kiosk_token: str
) -> None:
    _, out = lanes
    cameras, clock = free_port(), Clock()
    daemon = await start_daemon(site_file(tmp_path, lanes, cameras, None), clock)
    kiosk = Kiosk(daemon, kiosk_token)
    try:
        session = await inside(daemon, hours=2.5)
        intruder = await kiosk.call("POST", "/quote", json={"plate": PLATE}, headers={"Authorization": "Bearer x"})
        assert intruder.status_code == 401
        huge = await kiosk.call("POST", "/quote", content=b"{" + b" " * 20_000 + b"}")
        assert huge.status_code == 413
        bad = await kiosk.call("POST", "/payments", json={"session": session.id, "amount": -5, "reference": "T1"})
        assert bad.status_code == 422
        assert "amount" in bad.json()["message"]
        quoted = await kiosk.quote(plate=PLATE.lower())
        assert quoted["session"] == session.id
        assert quoted["due"] == daemon.quote(session.id).total > 0
        short = await kiosk.call("POST", "/payments", json={"session": session.id, "amount": quoted["due"] - 1,
                                                            "reference": "T0"})  # fmt: skip
        assert short.status_code == 409
        assert kiosk_payments(daemon) == []
        receipt = await kiosk.pay(session.id, quoted["due"], "T1")
        assert (receipt["kind"], receipt["amount"], receipt["plate"], receipt["station"]) == (
            "prepayment", quoted["due"], PLATE, KIOSK)  # fmt: skip
        again = await kiosk.pay(session.id, quoted["due"], "T1")  # the kiosk retries after a timeout
        assert again == receipt
        shown = await kiosk.call("GET", f"/receipts/{receipt['receipt']}")
        assert shown.json() == receipt
        assert kiosk_payments(daemon) == [("prepayment", quoted["due"], KIOSK, "T1")]

        clock.offset = timedelta(minutes=10)  # within the 15 minutes' grace
        await drive_up(daemon, out, cameras)
        await through(out, 1)
        assert out.opened() == 1
        assert daemon.journal.count("transactions", "kind = 'nothing_due'") == 1
        assert daemon.journal.rows("SELECT status FROM sessions WHERE id = ?", (session.id,)) == [("closed",)]
    finally:
        await kiosk.client.aclose()
        await daemon.stop()


async def test_leaving_after_the_grace_the_difference_is_paid_at_the_kiosk_and_the_barrier_opens(
    tmp_path: Path, lanes: tuple[SimLane, SerialExit], kiosk_token: str
) -> None:
    _, out = lanes
    cameras, clock = free_port(), Clock()
    daemon = await start_daemon(site_file(tmp_path, lanes, cameras, None), clock)
    kiosk = Kiosk(daemon, kiosk_token)
    try:
        session = await inside(daemon, hours=2.2, card="TC-0042")
        first = await kiosk.quote(card="TC-0042")
        await kiosk.pay(session.id, first["due"], "T7")
        clock.offset = timedelta(minutes=50)  # had a coffee first: the grace is over
        await drive_up(daemon, out, cameras)
        await until(lambda: daemon.lanes["out-1"].phase is Phase.WAITING, what="the exit asking for the difference")
        await asyncio.sleep(0.3)
        assert out.opened() == 0
        difference = await kiosk.quote(plate=PLATE)
        assert difference["paid_before"] == first["due"]
        assert 0 < difference["due"] == daemon.quote(session.id).total
        receipt = await kiosk.pay(session.id, difference["due"], "T8")  # at the kiosk beside the exit
        assert (receipt["kind"], receipt["lane"], receipt["released"]) == ("payment", "out-1", True)
        await through(out, 1)
        assert out.opened() == 1
        assert kiosk_payments(daemon) == [("prepayment", first["due"], KIOSK, "T7"),
                                          ("payment", difference["due"], KIOSK, "T8")]  # fmt: skip
        [(for_record,)] = daemon.journal.rows("SELECT for_record FROM barrier_commands WHERE command = 'open'")
        assert for_record == receipt["receipt"]  # the opening is tied to the payment, committed before it
    finally:
        await kiosk.client.aclose()
        await daemon.stop()


async def scanned(rig: PaymentRig, within: float = 10.0) -> dict[str, Any]:
    """The driver scans the lane's code and orders, once central knows the vehicle there (the edge's next poll)."""
    deadline = time.monotonic() + within
    while True:
        body = {"car_park": "lakeview", "lane": "out-1", "provider": "wechat"}
        answer = await asyncio.to_thread(rig.call, "POST", "/api/v1/pay/orders", json=body)
        if answer.status_code == 200:
            result: dict[str, Any] = answer.json()
            return result
        assert time.monotonic() < deadline, f"central never knew the vehicle at out-1: {answer.text}"
        await asyncio.sleep(0.3)


@pytest.fixture
def rig(central_engine: Engine, postgres_sqlalchemy_url: str, role_tokens: dict[Role, str],  # noqa: F811
        tmp_path: Path) -> Iterator[PaymentRig]:  # fmt: skip
    with payment_rig(central_engine, postgres_sqlalchemy_url, role_tokens, tmp_path / "keys") as built:
        yield built


@pytest.mark.postgres
async def test_scan_to_pay_opens_the_barrier_through_modbus_once_the_settlement_is_journaled(
    tmp_path: Path, lanes: tuple[SimLane, SerialExit], kiosk_token: str, rig: PaymentRig
) -> None:
    _, out = lanes
    cameras, clock = free_port(), Clock()
    daemon = await start_daemon(site_file(tmp_path, lanes, cameras, rig.central, rig.edge_token), clock)
    try:
        session = await inside(daemon, hours=2.5)
        await drive_up(daemon, out, cameras)
        await until(lambda: daemon.lanes["out-1"].phase is Phase.WAITING, what="the exit waiting for the fee")
        order = await scanned(rig)
        assert order["amount"] == daemon.quote(session.id).total
        assert out.opened() == 0
        assert await asyncio.to_thread(rig.provider.pay, order["id"]) == 200
        await through(out, 1)
        assert out.opened() == 1
        [(record, method, provider)] = daemon.journal.rows(
            "SELECT id, json_extract(payload, '$.method'), json_extract(payload, '$.provider') FROM transactions "
            "WHERE json_extract(payload, '$.order_id') = ?", (order["id"],),
        )  # fmt: skip
        assert (method, provider) == ("epay", "wechat")
        [(for_record, seq_open)] = daemon.journal.rows(
            "SELECT b.for_record, r.seq FROM barrier_commands b JOIN records r ON r.id = b.id WHERE b.command = 'open'"
        )
        [(seq_paid,)] = daemon.journal.rows("SELECT seq FROM records WHERE id = ?", (record,))
        assert for_record == record
        assert seq_paid < seq_open  # durability before motion
        assert json.loads(daemon.journal.rows("SELECT payload FROM transactions WHERE id = ?", (record,))[0][0])[
            "reference"]  # fmt: skip
    finally:
        await daemon.stop()


def test_a_pay_station_without_a_credential_is_refused_in_the_site_file(tmp_path: Path) -> None:
    path = write_site(tmp_path, 1, 2, None, 3)
    path.write_text(
        path.read_text().replace("[tariffs.hourly]", '[pay_stations.ps-1]\nname = "Level 1"\n\n[tariffs.hourly]')
    )
    with pytest.raises(SiteError) as refused:
        load_site(path)
    assert "pay_stations.ps-1" in str(refused.value)
    assert "token_env" in str(refused.value)
