"""The booth console and the lane's ESC/POS receipt printer (site file ``printer`` slot), against a real edge daemon
and a TCP server on localhost playing a network printer (raw port 9100): the receipt of a cash payment and the
payment slip of a closed shift are printed; a printer that is not there is a clear error and stores nothing less."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from drivers.escpos.decode import decode, printed_text
from drivers.health import Health
from edge.booth.operators import Role
from edge.daemon import EdgeDaemon, Submit
from edge.site import SiteConfig, load_site
from tests.edge.console.test_api import (
    FLOAT,
    Edge,
    MovableClock,
    RecordingPort,
    error_code,
    site_text,
    until,
    write_site,
)


@dataclass
class PrinterDouble:
    """A network printer: takes one job per connection, until the client ends it."""

    jobs: list[bytes] = field(default_factory=list)
    server: asyncio.Server | None = None

    async def _job(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.jobs.append(await reader.read())
        writer.close()

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._job, "127.0.0.1", 0)
        port: int = self.server.sockets[0].getsockname()[1]
        return port

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def printer_site(printer_port: int) -> str:
    text = site_text()
    device = (
        '[devices.out-printer]\nkind = "receipt_printer"\ndriver = "escpos"\n'
        f'connection = {{ type = "tcp", host = "127.0.0.1", port = {printer_port} }}\n\n[[lanes]]\nid = "in-1"'
    )
    text = text.replace('[[lanes]]\nid = "in-1"', device, 1)
    return text.replace('devices = { barrier = "out-io", loops = "out-io" }',
                        'devices = { barrier = "out-io", loops = "out-io", printer = "out-printer" }')  # fmt: skip


async def start_edge(folder: Path, printer_port: int) -> Edge:
    site_file = write_site(folder, printer_site(printer_port))
    site: SiteConfig = load_site(site_file)
    ports: dict[str, RecordingPort] = {}

    def port_factory(site: SiteConfig, index: int, submit: Submit) -> RecordingPort:
        ports[site.lanes[index].id] = RecordingPort(submit)
        return ports[site.lanes[index].id]

    clock = MovableClock()
    daemon = EdgeDaemon(site, site_file, port_factory=port_factory, clock=clock, metrics_listen="127.0.0.1:0",
                        synchronous="NORMAL", drain_timeout_s=0.5)  # fmt: skip
    assert daemon.desk is not None
    daemon.desk.operators.add("c01", "李收费", Role.COLLECTOR, "2468", by="test")
    await daemon.start()
    http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{daemon.metrics_port}", timeout=10)
    return Edge(daemon, clock, ports, http)


@pytest.fixture
async def printer() -> AsyncIterator[PrinterDouble]:
    double = PrinterDouble()
    await double.start()
    yield double
    await double.stop()


async def pay_cash(edge: Edge) -> dict[str, object]:
    assert (await edge.sign_in()).status_code == 200
    assert (await edge.post("shift/open", {"float": FLOAT, "cards_stock": 100})).status_code == 200
    await edge.enter("粤B12345")
    edge.clock.advance(hours=1, minutes=50)
    await edge.arrive_at_exit("粤B12345")
    paid = await edge.post("lanes/out-1/pay", {"method": "cash", "tendered": "10.00"})
    assert paid.status_code == 200, paid.text
    body: dict[str, object] = paid.json()
    return body


async def test_the_receipt_and_the_slip_print_on_the_lanes_printer(tmp_path: Path, printer: PrinterDouble) -> None:
    assert printer.server is not None
    edge = await start_edge(tmp_path, printer.server.sockets[0].getsockname()[1])
    try:
        paid = await pay_cash(edge)
        printed = await edge.post(f"payments/{paid['payment']}/print", {})
        assert printed.status_code == 200, printed.text
        assert printed.json()["printer"] == "out-printer"
        await until(lambda: len(printer.jobs) == 1, what="the receipt job")
        text = printed_text(decode(printer.jobs[0]))
        for expected in ("停车收费凭证", "湖景花园停车场", str(paid["receipt_no"]), "粤B12345", "7.00", "10.00", "3.00",
                         "现金"):  # fmt: skip
            assert expected in text, expected
        assert edge.desk.printers["out-1"].health.health is Health.ONLINE
        # the PDF is still there
        assert (await edge.http.get(f"/console/api/payments/{paid['payment']}/receipt.pdf")).status_code == 200

        await edge.cross("out-1")
        closed = await edge.post("shift/close", {"counts": FLOAT | {"500": 7, "100": 17}, "cards_on_hand": 100,
                                                 "cards_collected": 0, "note": ""})  # fmt: skip
        assert closed.status_code == 200, closed.text
        await until(lambda: len(printer.jobs) == 2, what="the slip printed after the shift closed")
        slip = printed_text(decode(printer.jobs[1]))
        for expected in ("内部缴款单", "李收费(c01)"):
            assert expected in slip, expected
        again = await edge.post(f"shifts/{closed.json()['report']['shift']}/print-slip", {})
        assert again.status_code == 200, again.text
        await until(lambda: len(printer.jobs) == 3, what="the slip printed again")
    finally:
        await edge.http.aclose()
        await edge.daemon.stop()


async def test_a_dead_printer_is_a_clear_error_and_loses_nothing(tmp_path: Path) -> None:
    edge = await start_edge(tmp_path, closed_port())
    try:
        paid = await pay_cash(edge)
        printed = await edge.post(f"payments/{paid['payment']}/print", {})
        assert printed.status_code == 503
        assert error_code(printed) == "printer.failed"
        assert "out-printer" in printed.json()["error"]["message"]
        health = edge.desk.printers["out-1"].health
        assert health.health is Health.OFFLINE
        assert "connect failed" in health.reason
        rows = edge.daemon.journal.rows("SELECT id FROM transactions WHERE lane = 'out-1'")
        assert rows == [(paid["payment"],)]  # the payment is stored; the lane went on
        assert edge.ports["out-1"].commands == ["open"]
        assert (await edge.http.get(f"/console/api/payments/{paid['payment']}/receipt.pdf")).status_code == 200
        unknown = await edge.post("payments/nope/print", {})
        assert (unknown.status_code, error_code(unknown)) == (404, "payment.unknown")
    finally:
        await edge.http.aclose()
        await edge.daemon.stop()
