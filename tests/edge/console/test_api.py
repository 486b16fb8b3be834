"""The booth console's HTTP API against a real edge daemon (lanes, journal, the daemon's aiohttp server), with the
lanes' devices played by a recording port: sign-in and refusals, bad input that stores nothing, a payment that is
one journal record, supervisor approval, the live stream, images, and the payment slip as PDF."""

from __future__ import annotations

import asyncio
import io
import json
import re
import shutil
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pypdf import PdfReader

from edge.booth.desk import BoothDesk
from edge.booth.operators import Role
from edge.daemon import EdgeDaemon, Submit
from edge.lanes.actions import Draft, Released
from edge.lanes.events import BarrierPosition, BarrierReport, LaneEvent, Loop, LoopChanged, PlateSeen
from edge.lanes.park import Session, SessionKind
from edge.site import SiteConfig, load_site
from parking.wire import RecordKind
from tests.edge.central_double import TOKEN
from tests.edge.test_daemon import modbus_io_devices

REPO = Path(__file__).resolve().parents[3]
FLOAT = {"10000": 2, "5000": 2, "2000": 5, "1000": 5, "500": 6, "100": 15, "50": 8, "10": 10}  # 500.00


class MovableClock:
    """The daemon's clock: real time plus an offset the test moves forward (a stay of hours in a second)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, **kw: float) -> None:
        self.offset += timedelta(**kw)


@dataclass
class RecordingPort:
    """A lane's devices: records the commands; the test plays the loops and the barrier through ``submit``."""

    submit: Submit
    commands: list[str] = field(default_factory=list)

    async def open_barrier(self) -> None:
        self.commands.append("open")

    async def close_barrier(self) -> None:
        self.commands.append("close")

    async def show(self, lines: tuple[str, ...]) -> None: ...

    async def say(self, text: str) -> None: ...

    async def dispense_card(self) -> None: ...


def site_text(entry_port: int = 1, exit_port: int = 2, central_url: str | None = None) -> str:
    """Two lanes with Modbus barrier I/O modules (on ``entry_port``/``exit_port``), the exit attended."""
    central = f'[central]\nurl = "{central_url}"\nedge_id = "lakeview-edge"\ntoken = "{TOKEN}"\n' if central_url else ""
    devices = modbus_io_devices({"in-io": entry_port, "out-io": exit_port})
    return f"""
[car_park]
id = "lakeview"
name = "湖景花园停车场"
timezone = "Asia/Shanghai"
currency = "CNY"
capacity = {{ small = 50 }}

[journal]
path = "var/journal.sqlite3"

{central}
[tariffs.hourly]
file = "tariffs/hourly.toml"

{devices}
[[lanes]]
id = "in-1"
name = "东门入口"
direction = "entry"
mode = "unattended"
devices = {{ barrier = "in-io", loops = "in-io" }}

[[lanes]]
id = "out-1"
name = "东门出口"
direction = "exit"
mode = "attended"
tariff = "hourly"
devices = {{ barrier = "out-io", loops = "out-io" }}
"""


def write_site(folder: Path, text: str) -> Path:
    (folder / "tariffs").mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "config" / "tariffs" / "residential.toml", folder / "tariffs" / "hourly.toml")
    path = folder / "site.toml"
    path.write_text(text)
    return path


async def until(check: Callable[[], bool], within: float = 5.0, what: str = "") -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what or check}")


@dataclass
class Edge:
    daemon: EdgeDaemon
    clock: MovableClock
    ports: dict[str, RecordingPort]
    http: httpx.AsyncClient
    stopped: bool = False

    @property
    def desk(self) -> BoothDesk:
        assert self.daemon.desk is not None
        return self.daemon.desk

    def feed(self, lane: str, *events: LaneEvent) -> None:
        for event in events:
            self.ports[lane].submit(event, time.perf_counter())

    async def enter(self, plate: str, image: str | None = None) -> None:
        before = len(self.daemon.park.sessions)
        self.feed("in-1", LoopChanged(Loop.ARMING, True), PlateSeen(plate, 0.95, "blue", image=image))
        await until(lambda: len(self.daemon.park.sessions) == before + 1, what=f"{plate} entered")
        await self.cross("in-1")

    async def cross(self, lane: str) -> None:
        """The vehicle crosses; returns once the lane's close command is in the journal (the writer defers it)."""
        journal, closes = self.daemon.journal, "lane = ? AND command = 'close'"
        before = journal.count("barrier_commands", closes, (lane,))
        self.feed(lane, BarrierReport(BarrierPosition.OPEN), LoopChanged(Loop.SAFETY, True),
                  LoopChanged(Loop.ARMING, False), LoopChanged(Loop.SAFETY, False),
                  BarrierReport(BarrierPosition.CLOSED))  # fmt: skip
        await until(lambda: self.daemon.lanes[lane].phase.value == "idle", what=f"{lane} idle")
        await until(lambda: journal.count("barrier_commands", closes, (lane,)) > before, what="close command stored")

    async def arrive_at_exit(self, plate: str, image: str | None = None) -> None:
        self.feed("out-1", PlateSeen(plate, 0.93, "blue", image=image), LoopChanged(Loop.ARMING, True))
        await until(lambda: self.daemon.lanes["out-1"].phase.value in ("waiting", "passing"), what=f"{plate} at exit")

    async def sign_in(self, operator: str = "c01", pin: str = "2468") -> httpx.Response:
        return await self.http.post("/console/api/sign-in", json={"operator": operator, "pin": pin})

    async def post(self, path: str, body: Any) -> httpx.Response:
        return await self.http.post(f"/console/api/{path}", json=body)


@pytest.fixture
async def edge(tmp_path: Path) -> AsyncIterator[Edge]:
    site_file = write_site(tmp_path, site_text())
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
    daemon.desk.operators.add("s01", "王主管", Role.SUPERVISOR, "1357", by="test")
    await daemon.start()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{daemon.metrics_port}", timeout=10) as http:
        edge = Edge(daemon, clock, ports, http)
        yield edge
    if not edge.stopped:
        await daemon.stop()


def error_code(response: httpx.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


# ---------------------------------------------------------------------------------------------------- access


async def test_everything_but_sign_in_needs_a_signed_in_operator(edge: Edge) -> None:
    paths = (("GET", "state"), ("GET", "events"), ("POST", "lanes/out-1/pay"), ("POST", "shift/open"),
             ("GET", "shifts/x/slip.pdf"), ("GET", "images/a.jpg"), ("GET", "search?plate=粤B"))  # fmt: skip
    for method, path in paths:
        response = await edge.http.request(method, f"/console/api/{path}", json={})
        assert response.status_code == 401, path
        assert error_code(response) == "auth.required"
    page = await edge.http.get("/console/")
    assert page.status_code == 200
    assert "console.js" in page.text
    for asset in ("console.js", "console.css", "i18n.js"):
        assert (await edge.http.get(f"/console/static/{asset}")).status_code == 200
    assert "http" not in re.sub(r'href="/|src="/', "", page.text).replace("http-equiv", "")  # no CDN


async def test_wrong_pins_are_refused_then_lock_and_everything_is_audited(edge: Edge) -> None:
    for _ in range(2):
        response = await edge.sign_in("c01", "0000")
        assert (response.status_code, error_code(response)) == (401, "auth.refused")
    third = await edge.sign_in("c01", "0000")  # the third wrong PIN locks the operator
    assert (third.status_code, error_code(third)) == (423, "auth.locked")
    locked = await edge.sign_in("c01", "2468")  # the right PIN, but locked now
    assert locked.status_code == 423
    assert error_code(locked) == "auth.locked"
    unknown = await edge.sign_in("nobody", "1234")
    assert unknown.status_code == 401
    bad = await edge.http.post("/console/api/sign-in", content=b"operator=c01", headers={"Content-Type": "text/plain"})
    assert bad.status_code == 422
    outcomes = [a.outcome.value for a in edge.desk.operators.audit()]
    assert outcomes == ["wrong_pin", "wrong_pin", "wrong_pin", "locked", "unknown"]


async def test_sign_in_sets_a_strict_cookie_and_sign_out_ends_the_session(edge: Edge) -> None:
    response = await edge.sign_in()
    assert response.status_code == 200
    assert response.json() == {"operator": "c01", "name": "李收费", "role": "collector"}
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert (await edge.http.get("/console/api/me")).status_code == 200
    assert (await edge.post("sign-out", {})).status_code == 200
    edge.http.cookies.clear()
    assert (await edge.http.get("/console/api/me")).status_code == 401


# ---------------------------------------------------------------------------------------------- bad input


async def test_bad_input_gets_a_clear_error_and_stores_nothing(edge: Edge) -> None:
    await edge.sign_in()
    records = edge.daemon.journal.last_seq
    for body, code in (
        ({"float": {"10000": -1}, "cards_stock": 10}, "input.bad_count"),
        ({"float": {"300": 1}, "cards_stock": 10}, "cash.bad_count"),
        ({"float": {}, "cards_stock": 10}, "input.bad_counts"),
        ({"float": {"10000": 1}, "cards_stock": "many"}, "input.bad_count"),
        ({"float": {"10000": 0}, "cards_stock": 10}, "shift.zero_float"),
    ):
        response = await edge.post("shift/open", body)
        assert response.status_code in (409, 422), body
        assert error_code(response) == code, body
    not_json = await edge.http.post(
        "/console/api/shift/open", content=b"{", headers={"Content-Type": "application/json"}
    )
    assert (not_json.status_code, error_code(not_json)) == (422, "input.not_json")
    assert edge.desk.shift is None  # the refused openings left nothing behind
    pay = await edge.post("lanes/out-1/pay", {"method": "cash", "tendered": "10.00"})
    assert (pay.status_code, error_code(pay)) == (409, "lane.no_vehicle_waiting")
    unknown = await edge.post("lanes/x-9/pay", {"method": "cash"})
    assert (unknown.status_code, error_code(unknown)) == (404, "lane.unknown")
    assert edge.daemon.journal.last_seq == records

    assert (await edge.post("shift/open", {"float": FLOAT, "cards_stock": 100})).status_code == 200
    await edge.enter("粤B12345")
    edge.clock.advance(hours=1, minutes=50)
    await edge.arrive_at_exit("粤B12345")
    records = edge.daemon.journal.last_seq
    payments: tuple[tuple[dict[str, Any], str], ...] = (
        ({"method": "cash", "tendered": "abc"}, "input.bad_amount"),
        ({"method": "cash", "tendered": 1000}, "input.bad_amount"),  # a number is ambiguous: decimal text only
        ({"method": "cash", "tendered": "5.001"}, "input.bad_amount"),
        ({"method": "cash", "tendered": "5.00"}, "payment.short"),
        ({"method": "epay", "reference": " "}, "payment.reference_required"),
        ({"method": "cheque"}, "payment.bad_method"),
    )
    for body, code in payments:
        response = await edge.post("lanes/out-1/pay", body)
        assert response.status_code == 422, body
        assert error_code(response) == code, body
    drop = await edge.post("shift/drop", {"bag": "", "counts": {"10000": 1}})
    assert (drop.status_code, error_code(drop)) == (422, "input.missing")
    search = await edge.http.get("/console/api/search", params={"plate": "粤"})
    assert (search.status_code, error_code(search)) == (422, "search.too_short")
    when = await edge.http.get("/console/api/search", params={"plate": "B123", "since": "yesterday"})
    assert (when.status_code, error_code(when)) == (422, "input.bad_time")
    assert edge.daemon.journal.last_seq == records
    shift = edge.desk.booth.current
    assert shift is not None
    assert shift.totals().takings == 0
    assert edge.daemon.lanes["out-1"].phase.value == "waiting"  # the vehicle still waits, nothing lost


# -------------------------------------------------------------------------------------------- a payment


async def test_a_cash_payment_is_one_journal_record_that_opens_the_barrier(edge: Edge) -> None:
    await edge.sign_in()
    assert (await edge.post("shift/open", {"float": FLOAT, "cards_stock": 100})).status_code == 200
    await edge.enter("粤B12345")
    edge.clock.advance(hours=1, minutes=50)
    await edge.arrive_at_exit("粤B12345")
    state = (await edge.http.get("/console/api/state")).json()
    lane = next(lane for lane in state["lanes"] if lane["id"] == "out-1")
    assert lane["due"]["minor"] == 700
    assert lane["due"]["text"] == "7.00"
    assert lane["vehicle"]["plate"] == "粤B12345"
    assert lane["due"]["lines"][0]["label"].startswith("stay 1×60min@5.00")
    paid = await edge.post("lanes/out-1/pay", {"method": "cash", "tendered": "10.00"})
    assert paid.status_code == 200, paid.text
    body = paid.json()
    assert (body["amount"], body["tendered"], body["change"]) == (700, 1000, 300)
    rows = edge.daemon.journal.rows("SELECT id, kind, amount, payload FROM transactions WHERE lane = 'out-1'")
    assert len(rows) == 1  # the booth's record, not a second one from the lane
    tx_id, kind, amount, payload_text = rows[0]
    payload = json.loads(payload_text)
    assert (tx_id, kind, amount) == (body["payment"], "payment", 700)
    assert (payload["method"], payload["tendered"], payload["change"], payload["operator"]) == (
        "cash",
        1000,
        300,
        "c01",
    )
    shift = edge.desk.booth.current
    assert shift is not None
    assert payload["shift"] == shift.id
    opening = edge.daemon.journal.rows(
        "SELECT for_record FROM barrier_commands WHERE lane = 'out-1' AND command = 'open'"
    )
    assert opening == [(tx_id,)]
    closing = edge.daemon.journal.rows("SELECT payload FROM records WHERE kind = 'session' ORDER BY seq DESC LIMIT 1")
    assert json.loads(closing[0][0])["tariff_hash"]  # the tariff's hash goes with the session's closing
    assert edge.ports["out-1"].commands == ["open"]
    assert shift.pending_exit(tx_id)
    await edge.cross("out-1")
    await until(lambda: not shift.pending_exit(tx_id), what="payment final once the vehicle crossed")
    totals = shift.totals()
    assert (totals.takings, totals.expected_cash, totals.barrier_cycles) == (700, 50700, 1)


async def test_a_coupon_entered_at_the_booth_requotes_the_fee_and_is_journaled_with_the_operator(edge: Edge) -> None:
    await edge.sign_in()
    assert (await edge.post("shift/open", {"float": FLOAT, "cards_stock": 100})).status_code == 200
    await edge.enter("粤B12345")
    edge.clock.advance(hours=1, minutes=50)
    await edge.arrive_at_exit("粤B12345")
    bad = await edge.post("lanes/out-1/coupon", {"coupon": "-5"})
    assert (bad.status_code, error_code(bad)) == (422, "coupon.invalid")
    applied = await edge.post("lanes/out-1/coupon", {"coupon": "1h", "reason": "商场停车券 No.88"})
    assert applied.status_code == 200, applied.text
    state = (await edge.http.get("/console/api/state")).json()
    lane = next(lane for lane in state["lanes"] if lane["id"] == "out-1")
    assert lane["due"]["minor"] == 500  # 1 h 50 min less the free hour: one started hour at 5.00
    (coupon,) = edge.daemon.journal.rows(
        "SELECT json_extract(payload, '$.operator'), json_extract(payload, '$.reason'), "
        "json_extract(payload, '$.coupon.minutes'), json_extract(payload, '$.due_before') FROM records "
        "WHERE kind = 'manual_action' AND json_extract(payload, '$.action') = 'coupon'"
    )  # fmt: skip
    assert coupon == ("c01", "商场停车券 No.88", 60, 700)
    paid = await edge.post("lanes/out-1/pay", {"method": "cash", "tendered": "5.00"})
    assert paid.status_code == 200, paid.text
    (payload,) = edge.daemon.journal.rows("SELECT payload FROM transactions WHERE lane = 'out-1'")
    record = json.loads(payload[0])
    assert (record["amount"], record["coupons"]) == (500, [{"minutes": 60, "amount": 0, "code": "1h"}])
    await edge.cross("out-1")


async def test_a_payment_the_lane_does_not_take_is_withdrawn(edge: Edge, monkeypatch: pytest.MonkeyPatch) -> None:
    await edge.sign_in()
    await edge.post("shift/open", {"float": FLOAT, "cards_stock": 100})
    await edge.enter("粤B12345")
    edge.clock.advance(hours=1, minutes=50)
    await edge.arrive_at_exit("粤B12345")
    shift = edge.desk.booth.current
    assert shift is not None
    take_payment = shift.take_payment

    def from_an_older_quote(**kw: Any) -> Any:  # the booth's record says 5.00 where the lane now quotes 7.00
        kw["amount"] -= 200
        return take_payment(**kw)

    monkeypatch.setattr(shift, "take_payment", from_an_older_quote)
    records = edge.daemon.journal.last_seq
    response = await edge.post("lanes/out-1/pay", {"method": "cash", "tendered": "20.00"})
    assert (response.status_code, error_code(response)) == (409, "lane.refused")
    assert edge.daemon.journal.last_seq == records  # nothing stored
    assert shift.tally.payments == {}  # and the shift forgot the record it made
    assert [r.kind.value for r in shift.records] == ["shift"]
    assert shift.totals().takings == 0
    assert shift.expected_cash() == 50000
    assert edge.ports["out-1"].commands == []
    monkeypatch.undo()
    paid = await edge.post("lanes/out-1/pay", {"method": "cash", "tendered": "20.00"})
    assert paid.status_code == 200
    assert paid.json()["receipt_no"].endswith("-0001")  # the withdrawn record did not use a receipt number


# ----------------------------------------------------------------------------------- supervisor, slip, live


async def test_reopening_a_report_needs_a_supervisor_pin(edge: Edge) -> None:
    await edge.sign_in()
    await edge.post("shift/open", {"float": FLOAT, "cards_stock": 100})
    closed = await edge.post("shift/close", {"counts": FLOAT, "cards_on_hand": 100, "cards_collected": 0,
                                             "note": "一切正常"})  # fmt: skip
    assert closed.status_code == 200, closed.text
    assert closed.json()["report"]["cash"]["difference"]["minor"] == 0
    as_collector = await edge.post("shift/reopen", {"supervisor": "c01", "pin": "2468", "reason": "recount"})
    assert (as_collector.status_code, error_code(as_collector)) == (403, "supervisor.not_supervisor")
    wrong = await edge.post("shift/reopen", {"supervisor": "s01", "pin": "9999", "reason": "recount"})
    assert (wrong.status_code, error_code(wrong)) == (403, "supervisor.refused")
    no_reason = await edge.post("shift/reopen", {"supervisor": "s01", "pin": "1357", "reason": ""})
    assert (no_reason.status_code, error_code(no_reason)) == (422, "input.missing")
    ok = await edge.post("shift/reopen", {"supervisor": "s01", "pin": "1357", "reason": "recount the 50s"})
    assert ok.status_code == 200, ok.text
    reopened = edge.daemon.journal.rows("SELECT payload FROM records WHERE payload LIKE '%report_reopened%'")
    payload = json.loads(reopened[0][0])
    assert (payload["operator"], payload["requested_by"]) == ("s01", "c01")
    state = (await edge.http.get("/console/api/state")).json()["shift"]
    assert state["state"] == "closing"  # the console goes back to counting
    recount = await edge.post("shift/close", {"counts": FLOAT, "cards_on_hand": 99, "cards_collected": 0, "note": ""})
    assert recount.status_code == 200, recount.text
    assert (recount.json()["report"]["revision"], recount.json()["report"]["cards"]["difference"]) == (2, -1)
    assert edge.daemon.journal.count("records", "kind = 'shift_report'") == 2  # the first report stays on record
    reopen_again = await edge.post("shift/open", {"float": FLOAT, "cards_stock": 99, "acknowledge": False})
    assert (reopen_again.status_code, error_code(reopen_again)) == (409, "shift.handover_unacknowledged")
    assert (await edge.post("shift/open", {"float": FLOAT, "cards_stock": 99, "acknowledge": True})).status_code == 200
    apb = await edge.post("lanes/in-1/reset-anti-passback", {"supervisor": "c01", "pin": "2468"})
    assert (apb.status_code, error_code(apb)) == (403, "supervisor.not_supervisor")


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return re.sub(r"[\s\x00]+", "", "".join(page.extract_text() for page in reader.pages))


async def test_the_slip_pdf_of_a_closed_shift(edge: Edge) -> None:
    await edge.sign_in()
    await edge.post("shift/open", {"float": FLOAT, "cards_stock": 100})
    await edge.enter("粤B12345")
    edge.clock.advance(hours=1, minutes=50)
    await edge.arrive_at_exit("粤B12345")
    assert (await edge.post("lanes/out-1/pay", {"method": "cash", "tendered": "10.00"})).status_code == 200
    await edge.cross("out-1")
    assert (await edge.post("shift/drop", {"bag": "TB-0001", "counts": {"10000": 1}})).status_code == 200
    short = dict(FLOAT, **{"1000": 4, "500": 7})  # 500.00 - 10.00 + 5.00 = 495.00; expected 407.00 after the drop
    closed = await edge.post("shift/close", {"counts": short, "cards_on_hand": 100, "cards_collected": 0, "note": ""})
    report = closed.json()["report"]
    assert report["cash"]["expected"]["minor"] == 50000 + 700 - 10000
    assert report["cash"]["difference"]["minor"] == 49500 - 40700
    shift_id = report["shift"]
    pdf = await edge.http.get(f"/console/api/shifts/{shift_id}/slip.pdf")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    text = pdf_text(pdf.content)
    for expected in ("内部缴款单", "湖景花园停车场", "李收费(c01)", "TB-0001", "100.00", "长款", "88.00"):
        assert expected in text, expected
    assert (await edge.http.get("/console/api/shifts/nope/slip.pdf")).status_code == 404


async def test_the_live_stream_pushes_each_change(edge: Edge) -> None:
    await edge.sign_in()
    async with edge.http.stream("GET", "/console/api/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.aiter_lines()

        async def next_state() -> dict[str, Any]:
            async for line in lines:
                if line.startswith("data: "):
                    state: dict[str, Any] = json.loads(line[6:])
                    return state
            raise AssertionError("stream ended")

        first = await asyncio.wait_for(next_state(), 5)
        assert first["shift"]["state"] == "none"
        edge.feed("out-1", LoopChanged(Loop.ARMING, True))
        changed = await asyncio.wait_for(next_state(), 5)
        while not next(lane for lane in changed["lanes"] if lane["id"] == "out-1")["arming"]:
            changed = await asyncio.wait_for(next_state(), 5)
        assert changed["version"] > first["version"]


async def test_images_are_served_only_from_the_image_folder(edge: Edge, tmp_path: Path) -> None:
    await edge.sign_in()
    folder = edge.desk.image_roots[0]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "exit-1.jpg").write_bytes(b"\xff\xd8\xff fake jpeg")
    (tmp_path / "secret.txt").write_text("not for the console")
    ok = await edge.http.get("/console/api/images/exit-1.jpg")
    assert ok.status_code == 200
    assert ok.content.startswith(b"\xff\xd8")
    for ref in ("..%2Fsecret.txt", "%2Fetc%2Fpasswd", str(tmp_path / "secret.txt").replace("/", "%2F")):
        refused = await edge.http.get(f"/console/api/images/{ref}")
        assert refused.status_code == 404, ref


async def test_a_restart_keeps_the_open_shift_and_its_figures(edge: Edge) -> None:
    await edge.sign_in()
    await edge.post("shift/open", {"float": FLOAT, "cards_stock": 100})
    await edge.enter("粤B12345")
    edge.clock.advance(hours=1, minutes=50)
    await edge.arrive_at_exit("粤B12345")
    paid = (await edge.post("lanes/out-1/pay", {"method": "cash", "tendered": "10.00"})).json()
    await edge.cross("out-1")
    receipt = await edge.http.get(f"/console/api/payments/{paid['payment']}/receipt.pdf")
    assert receipt.status_code == 200
    text = pdf_text(receipt.content)
    for expected in ("停车收费凭证", paid["receipt_no"], "粤B12345", "7.00", "10.00", "3.00", "现金"):
        assert expected in text, expected
    await edge.daemon.stop()
    edge.stopped = True

    site_file = edge.daemon.site_file
    again = EdgeDaemon(load_site(site_file), site_file, port_factory=lambda _s, _i, submit: RecordingPort(submit),
                       clock=edge.clock, metrics_listen="127.0.0.1:0", synchronous="NORMAL")  # fmt: skip
    await again.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{again.metrics_port}", timeout=10) as http:
            assert (await http.get("/console/api/state")).status_code == 401  # sessions do not survive a restart
            await http.post("/console/api/sign-in", json={"operator": "c01", "pin": "2468"})
            shift = (await http.get("/console/api/state")).json()["shift"]
            assert shift["state"] == "open"
            assert shift["totals"]["takings"]["minor"] == 700
            assert shift["totals"]["expected_cash"]["minor"] == 50700
            assert shift["totals"]["pending_exit"] == []
            again_paid = await http.get(f"/console/api/payments/{paid['payment']}/receipt.pdf")
            assert again_paid.status_code == 200
    finally:
        await again.stop()


async def test_a_payment_is_reversed_only_while_its_vehicle_is_in_the_lane(edge: Edge) -> None:
    await edge.sign_in()
    await edge.post("shift/open", {"float": FLOAT, "cards_stock": 100})
    await edge.enter("粤B12345")
    edge.clock.advance(hours=1, minutes=50)
    await edge.arrive_at_exit("粤B12345")
    paid = (await edge.post("lanes/out-1/pay", {"method": "cash", "tendered": "10.00"})).json()
    no_reason = await edge.post("shift/reverse", {"payment": paid["payment"], "reason": " "})
    assert (no_reason.status_code, error_code(no_reason)) == (422, "input.missing")
    # the driver changes their mind and backs out before crossing: the session is open again
    edge.feed("out-1", BarrierReport(BarrierPosition.OPEN), LoopChanged(Loop.ARMING, False))
    await until(lambda: len(edge.daemon.park.sessions) == 1, what="session reopened on back-out")
    reversed_ = await edge.post("shift/reverse", {"payment": paid["payment"], "reason": "driver turned back"})
    assert reversed_.status_code == 200, reversed_.text
    rows = edge.daemon.journal.rows("SELECT kind, amount FROM transactions WHERE lane = 'out-1' ORDER BY at")
    assert rows == [("payment", 700), ("reversal", 700)]
    shift = edge.desk.booth.current
    assert shift is not None
    assert (shift.totals().takings, shift.expected_cash()) == (0, 50000)
    again = await edge.post("shift/reverse", {"payment": paid["payment"], "reason": "twice"})
    assert (again.status_code, error_code(again)) == (409, "reversal.already_reversed")


async def test_search_the_entry_of_a_misread_plate_and_attach_it(edge: Edge) -> None:
    await edge.sign_in()
    await edge.post("shift/open", {"float": FLOAT, "cards_stock": 100})
    folder = edge.desk.image_roots[0]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "in-12345.jpg").write_bytes(b"\xff\xd8\xff entry")
    await edge.enter("粤B12345", image="in-12345.jpg")
    await edge.enter("粤B67890")
    edge.clock.advance(hours=1, minutes=50)
    await edge.arrive_at_exit("粤E99999")  # misread at the exit: no entry record for it
    lane = next(v for v in (await edge.http.get("/console/api/state")).json()["lanes"] if v["id"] == "out-1")
    assert (lane["phase"], lane["vehicle"]["plate"]) == ("waiting", "粤E99999")
    assert lane["due"] is None or lane["due"]["lost_card"]  # at most the flat fee of an unknown entry
    since = (edge.clock() - timedelta(hours=3)).astimezone(edge.desk.zone).strftime("%Y-%m-%dT%H:%M")
    found = (await edge.http.get("/console/api/search", params={"plate": "12345", "since": since})).json()["sessions"]
    assert [s["plate"] for s in found] == ["粤B12345"]
    assert (await edge.http.get(found[0]["entry_image"])).content == b"\xff\xd8\xff entry"
    later = (edge.clock() + timedelta(hours=1)).astimezone(edge.desk.zone).strftime("%Y-%m-%dT%H:%M")
    assert (await edge.http.get("/console/api/search", params={"plate": "12345", "since": later})).json() == {
        "sessions": []
    }
    unknown = await edge.post("lanes/out-1/attach", {"session": "no-such-session"})
    assert (unknown.status_code, error_code(unknown)) == (404, "search.unknown_session")
    assert (await edge.post("lanes/out-1/attach", {"session": found[0]["session"]})).status_code == 200
    lane = next(v for v in (await edge.http.get("/console/api/state")).json()["lanes"] if v["id"] == "out-1")
    assert lane["due"]["minor"] == 700
    assert lane["vehicle"]["entry_image"] == found[0]["entry_image"]
    paid = await edge.post("lanes/out-1/pay", {"method": "epay", "reference": "ALI2026112700042"})
    assert paid.status_code == 200, paid.text
    attach = edge.daemon.journal.rows("SELECT operator, reason FROM manual_actions WHERE action = 'attach_entry'")
    assert attach == [("c01", "entry found by search")]
    assert edge.daemon.journal.count("abnormal_events", "event = 'no_entry_record'") == 1


async def test_temporary_cards_issued_at_entry_and_collected_at_exit_reach_the_shift(edge: Edge) -> None:
    await edge.sign_in()
    await edge.post("shift/open", {"float": FLOAT, "cards_stock": 100})
    shift = edge.desk.booth.current
    assert shift is not None
    now = edge.clock()
    dispensed = Session("s-1", SessionKind.TEMPORARY, "small", now, "in-1", card="T-0001")
    presented = Session("s-2", SessionKind.PASS, "small", now, "in-1", card="A-77", pass_id="p-1")
    opened = [
        Draft("r-1", RecordKind.SESSION, "in-1", now, {"event": "opened", **dispensed.to_payload(),
                                                      "identity": {"card": None}}),
        Draft("r-2", RecordKind.SESSION, "in-1", now, {"event": "opened", **presented.to_payload(),
                                                      "identity": {"card": "A-77"}}),
    ]  # fmt: skip
    edge.desk.committed(opened)
    edge.desk.released("out-1", Released("nothing_due", dispensed, by_booth=False))
    edge.desk.released("out-1", Released("pass", presented, by_booth=False))
    assert (shift.tally.cards_issued["entry"], shift.tally.cards_collected) == (1, 1)
    assert shift.tally.expected_cards(100) == 100


async def test_reject_and_an_entry_lane_manual_open_are_recorded_with_the_operator(edge: Edge) -> None:
    await edge.sign_in()
    await edge.post("shift/open", {"float": FLOAT, "cards_stock": 100})
    nothing = await edge.post("lanes/out-1/reject", {"reason": "no vehicle"})
    assert (nothing.status_code, error_code(nothing)) == (409, "lane.no_vehicle_waiting")
    await edge.arrive_at_exit("粤E99999")
    assert (await edge.post("lanes/out-1/reject", {"reason": "refuses to pay"})).status_code == 200
    assert edge.daemon.lanes["out-1"].phase.value in ("denied", "idle")
    assert edge.ports["out-1"].commands == []
    refused = edge.daemon.journal.rows("SELECT operator, reason FROM manual_actions WHERE action = 'refuse'")
    assert refused == [("c01", "refuses to pay")]
    no_reason = await edge.post("lanes/in-1/manual-open", {"reason": ""})
    assert (no_reason.status_code, error_code(no_reason)) == (422, "input.missing")
    assert (await edge.post("lanes/in-1/manual-open", {"reason": "ambulance, reader down"})).status_code == 200
    await until(lambda: edge.ports["in-1"].commands == ["open"], what="entry barrier opened")
    opened = edge.daemon.journal.rows("SELECT operator, reason FROM manual_actions WHERE action = 'manual_open'")
    assert opened == [("c01", "ambulance, reader down")]
    shift = edge.desk.booth.current
    assert shift is not None
    assert shift.totals().manual_opens == 0  # an entry lane's opening is the lane's record, not the booth shift's
