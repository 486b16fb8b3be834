"""Scan-to-pay at an unattended exit, end to end: the exit lane machine with its journal and runner, the real
central (uvicorn, PostgreSQL) and the provider simulator driven through the real SDKs. The lane reports the waiting
vehicle, the driver orders and pays, the notification reaches central, the edge commits the settlement and only
then opens. Paying inside then leaving within the grace, paying the difference after it, a forged notification
(the barrier stays closed), and central unreachable (the display says so, nothing is lost) are covered too."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session as DbSession

from central.core.security import Role
from central.models import MoneyRecord
from edge.lanes.actions import Draft
from edge.lanes.exit import ExitLane
from edge.lanes.fees import FeeQuoter, TariffFees
from edge.lanes.lane import LaneSettings, Phase
from edge.lanes.park import Session, SessionKind
from edge.lanes.payments import Prepayment, prepay, quote_session
from edge.runner import LaneRunner
from edge.store.journal import Journal
from edge.store.sync import Outbox
from edge.store.tariff_versions import tariff_version_drafts
from edge.store.writer import JournalWriter
from edge.unattended.exit_payments import OFFLINE_LINES, ExitPayments
from edge.unattended.kiosk import PayStations
from edge.unattended.remote_vend import RemoteVends
from parking.ids import new_id
from parking.wire import RecordKind
from tests.central.conftest import PASSWORD, central_engine, role_tokens  # noqa: F401 - fixtures
from tests.central.payment_rig import PaymentRig, free_port, payment_rig
from tests.edge.kit import CAR_PARK, Clock, HourlyTariff, arrive, context, cross
from tests.edge.store.test_journal import Observer, RecordingPort

pytestmark = pytest.mark.postgres
PLATE = "粤B3R7K2"


@pytest.fixture
def rig(central_engine: Engine, postgres_sqlalchemy_url: str, role_tokens: dict[Role, str],  # noqa: F811
        tmp_path: Path) -> Iterator[PaymentRig]:  # fmt: skip
    with payment_rig(central_engine, postgres_sqlalchemy_url, role_tokens, tmp_path / "keys") as built:
        yield built


class Exit:
    """An unattended exit lane with its journal, runner and the edge's payment link to central."""

    def __init__(self, rig: PaymentRig, folder: Path, fees: FeeQuoter | None = None) -> None:
        assert rig.car_park == CAR_PARK
        self.clock = Clock(datetime.now(UTC))
        self.ctx = context()
        self.fees = fees or HourlyTariff()
        self.lane: ExitLane = ExitLane(LaneSettings(id="out-1", car_park=CAR_PARK, tariff="residential",
                                                    attended=False), self.ctx, self.fees)  # fmt: skip
        self.journal = Journal(folder / "journal.sqlite3", CAR_PARK)
        self.writer = JournalWriter(self.journal, inline=True)
        self.port = RecordingPort()
        self.shown: list[tuple[str, ...]] = []
        self.runner = LaneRunner(self.lane, self.writer, self.port, Observer(), clock=lambda: self.clock.now)
        original_show = self.port.show

        async def show(lines: tuple[str, ...]) -> None:
            self.shown.append(lines)
            await original_show(lines)

        self.port.show = show  # type: ignore[method-assign]
        self.link(rig.central, rig.edge)

    def link(self, central: str, headers: dict[str, str]) -> None:
        self.client = httpx.AsyncClient(base_url=central, headers=headers, timeout=5)
        self.payments = ExitPayments(self.client, self.journal, {"out-1": self.runner}, prepay=self.prepay,
                                     commit=self.writer.commit, clock=lambda: self.clock.now)  # fmt: skip

    async def prepay(self, session_id: str, amount: int, *, method: str, station: str,
                     extra: dict[str, Any] | None = None, at: datetime | None = None) -> Prepayment:  # fmt: skip
        """What ``EdgeDaemon.prepay`` does: the pure prepayment, then its commit."""
        payment = prepay(self.ctx.park, self.fees, "residential", session_id, amount, at or self.clock.now,
                         method=method, station=station, extra=extra)  # fmt: skip
        await self.writer.commit(payment.drafts)
        return payment

    async def entered(self, hours_ago: float, plate: str = PLATE) -> Session:
        session = Session(new_id(), SessionKind.TEMPORARY, "small", self.clock.now - timedelta(hours=hours_ago),
                          "in-1", plate=plate)  # fmt: skip
        self.ctx.park.open(session)
        opened = {"event": "opened", **session.to_payload()}
        await self.writer.commit([Draft(new_id(), RecordKind.SESSION, "in-1", self.clock.now, opened)])
        return session

    async def arrives(self) -> None:
        for event in arrive(PLATE):
            await self.runner.feed(event)
            self.clock.advance(0.1)

    def epayments(self) -> list[tuple[str, str, int, str]]:
        return [tuple(row) for row in self.journal.rows(
            "SELECT kind, json_extract(payload, '$.provider'), amount, json_extract(payload, '$.order_id') "
            "FROM transactions WHERE json_extract(payload, '$.method') = 'epay' ORDER BY at")]  # fmt: skip


@pytest.fixture
async def lane_exit(rig: PaymentRig, tmp_path: Path) -> Any:
    built = Exit(rig, tmp_path)
    yield built
    await built.client.aclose()
    built.writer.stop()
    built.journal.close()


async def test_a_visitor_pays_by_scan_to_pay_and_the_barrier_opens(rig: PaymentRig, lane_exit: Exit) -> None:
    session = await lane_exit.entered(hours_ago=2.5)
    await lane_exit.arrives()
    assert lane_exit.lane.phase is Phase.WAITING
    assert lane_exit.port.calls.count("open") == 0
    await lane_exit.payments.step()  # central learns the vehicle at out-1
    assert (PLATE, "请扫码缴费") in lane_exit.shown
    order = rig.order("wechat")
    assert order["amount"] == 1500
    assert order["plate"] == PLATE
    assert await asyncio.to_thread(rig.provider.pay, order["id"]) == 200
    assert lane_exit.port.calls.count("open") == 0  # paid at the provider, not yet in the journal
    await lane_exit.payments.step()
    assert lane_exit.port.calls.count("open") == 1
    assert lane_exit.epayments() == [("payment", "wechat", 1500, order["id"])]
    closed = lane_exit.journal.rows("SELECT status FROM sessions WHERE id = ?", (session.id,))
    assert closed == [("closed",)]
    assert rig.settlements(since=lane_exit.payments.since) == []  # acknowledged
    await lane_exit.payments.step()  # polling again changes nothing
    assert lane_exit.epayments() == [("payment", "wechat", 1500, order["id"])]


async def test_paying_inside_then_leaving_within_the_grace_and_after_it_paying_the_difference(
    rig: PaymentRig, lane_exit: Exit
) -> None:
    first = await lane_exit.entered(hours_ago=1.5)
    second = await lane_exit.entered(hours_ago=1.5)
    for session in (first, second):  # the driver paid inside: the quote central holds has no lane
        answer = rig.call("POST", "/api/v1/edges/exit-quotes", headers=rig.edge, json={
            "lane": f"inside-{session.id}", "session": session.id, "plate": PLATE,
            "quoted_at": lane_exit.clock.now.isoformat(), "total": 1000, "currency": "CNY", "tariff_hash": "h" * 64,
        })  # fmt: skip
        assert answer.status_code == 200, answer.text
        order = rig.order("alipay", lane=f"inside-{session.id}")
        assert await asyncio.to_thread(rig.provider.pay, order["id"]) == 200
    await lane_exit.payments.step()
    assert [row[:3] for row in lane_exit.epayments()] == [("prepayment", "alipay", 1000)] * 2
    assert first.paid == 1000
    lane_exit.ctx.park.close(second.id)  # only the first is looked for at the lane now
    lane_exit.clock.advance(10 * 60)  # within the 15 minutes' grace
    await lane_exit.arrives()
    assert lane_exit.port.calls.count("open") == 1  # left by itself
    for event in cross():
        await lane_exit.runner.feed(event)
        lane_exit.clock.advance(0.5)
    lane_exit.ctx.park.open(second)
    lane_exit.clock.advance(60 * 60)  # long after the grace: the next hour is due
    await lane_exit.arrives()
    assert lane_exit.lane.phase is Phase.WAITING
    assert lane_exit.lane.due is not None
    assert lane_exit.lane.due.quote.total == 500
    await lane_exit.payments.step()
    difference = rig.order("wechat")
    assert difference["amount"] == 500
    assert await asyncio.to_thread(rig.provider.pay, difference["id"]) == 200
    await lane_exit.payments.step()
    assert lane_exit.port.calls.count("open") == 2
    assert lane_exit.epayments()[-1] == ("payment", "wechat", 500, difference["id"])


async def test_a_forged_notification_leaves_the_barrier_closed(rig: PaymentRig, lane_exit: Exit) -> None:
    await lane_exit.entered(hours_ago=2.5)
    await lane_exit.arrives()
    await lane_exit.payments.step()
    order = rig.order("wechat")
    simulated = rig.provider.orders[order["id"]]
    simulated.state, simulated.paid_at = "SUCCESS", datetime.now(UTC)
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert await asyncio.to_thread(rig.provider.notify, order["id"], key=forger) == 401
    assert await asyncio.to_thread(rig.provider.notify, order["id"], at=datetime.now(UTC) - timedelta(hours=1)) == 400
    await lane_exit.payments.step()
    assert lane_exit.port.calls.count("open") == 0
    assert lane_exit.lane.phase is Phase.WAITING
    assert lane_exit.epayments() == []


async def test_central_unreachable_the_display_says_so_and_nothing_is_lost(rig: PaymentRig, lane_exit: Exit) -> None:
    await lane_exit.entered(hours_ago=2.5)
    await lane_exit.arrives()
    await lane_exit.payments.step()
    order = rig.order("wechat")
    assert await asyncio.to_thread(rig.provider.pay, order["id"]) == 200
    await lane_exit.client.aclose()
    lane_exit.link(f"http://127.0.0.1:{free_port()}", rig.edge)  # the link to central is down
    await lane_exit.payments.step()
    assert lane_exit.shown[-1] == OFFLINE_LINES
    assert lane_exit.port.calls.count("open") == 0
    await lane_exit.client.aclose()
    lane_exit.link(rig.central, rig.edge)  # back: the settlement waited at central
    await lane_exit.payments.step()
    await lane_exit.payments.step()
    assert lane_exit.port.calls.count("open") == 1
    assert lane_exit.epayments() == [("payment", "wechat", 1500, order["id"])]
    assert await asyncio.to_thread(rig.provider.notify, order["id"]) == 200  # the provider retries: no change
    await lane_exit.payments.step()
    assert lane_exit.epayments() == [("payment", "wechat", 1500, order["id"])]


async def test_a_remote_vend_from_the_office_is_journaled_and_reaches_reconciliation(
    rig: PaymentRig,
    lane_exit: Exit,
    central_engine: Engine,  # noqa: F811
) -> None:
    await lane_exit.entered(hours_ago=2.5)
    await lane_exit.arrives()
    lane_exit.payments.vends = RemoteVends(lane_exit.client, lane_exit.journal, {"out-1": lane_exit.runner},
                                           lambda: lane_exit.clock.now)  # fmt: skip
    supervisor = rig.staff[Role.SUPERVISOR]
    reason = "intercom: the driver's phone has no signal; plate checked on camera"
    answer = rig.call("POST", "/api/v1/remote-vends", headers=supervisor,
                      json={"car_park": "lakeview", "lane": "out-1", "reason": reason})  # fmt: skip
    assert answer.status_code == 201, answer.text
    vend = answer.json()
    assert lane_exit.port.calls.count("open") == 0
    await lane_exit.payments.step()
    assert lane_exit.port.calls.count("open") == 1
    [(operator, why, remote)] = lane_exit.journal.rows(
        "SELECT operator, reason, json_extract(payload, '$.remote_vend') FROM manual_actions"
    )
    assert (operator, why, remote) == ("office:supervisor", reason, vend["id"])
    [kept] = rig.call("GET", "/api/v1/remote-vends?car_park=lakeview", headers=supervisor).json()
    assert kept["outcome"] == "opened"
    assert kept["journal_record"] is not None
    await lane_exit.payments.step()  # asked again: nothing more
    assert lane_exit.port.calls.count("open") == 1
    outbox = Outbox(lane_exit.journal, lane_exit.client, "lakeview-edge")
    assert await outbox.send_once() > 0
    with DbSession(central_engine) as db:
        columns = select(MoneyRecord.kind, MoneyRecord.event, MoneyRecord.reason, MoneyRecord.quoted)
        opens = db.execute(columns.where(MoneyRecord.event == "manual_open").order_by(MoneyRecord.kind)).all()
    assert [tuple(row) for row in opens] == [("manual_action", "manual_open", reason, None),
                                             ("transaction", "manual_open", reason, 1500)]  # fmt: skip
    audit = rig.call("GET", "/api/v1/audit?entity=remote_vend", headers=supervisor)
    assert audit.status_code == 200, audit.text
    assert [entry["action"] for entry in audit.json()] == ["remote_vend.request"]


async def test_paying_inside_by_plate_search_then_leaving_by_itself(rig: PaymentRig, tmp_path: Path) -> None:
    fees = TariffFees({"residential": Path("config/tariffs/residential.toml")})
    lane_exit = Exit(rig, tmp_path, fees)
    try:
        ids = {tariff.content_hash: tariff.id for tariff in fees.tariffs.values()}
        await lane_exit.writer.commit(tariff_version_drafts(lane_exit.journal, fees.texts, ids, lane_exit.clock.now))
        session = await lane_exit.entered(hours_ago=2.5)
        await lane_exit.entered(hours_ago=1, plate="粤B3R7K9")
        assert await Outbox(lane_exit.journal, lane_exit.client, "lakeview-edge").send_once() > 0
        zone = ZoneInfo("Asia/Shanghai")
        start, end = session.entry_at - timedelta(hours=4), session.entry_at + timedelta(hours=2, minutes=30)
        window = {"entered_from": start.astimezone(zone).strftime("%Y-%m-%dT%H:%M"),
                  "entered_to": end.astimezone(zone).strftime("%Y-%m-%dT%H:%M")}  # fmt: skip
        found = rig.call("GET", "/pay/lakeview", params={"plate": "3R7K2", **window})
        assert found.status_code == 200, found.text
        assert PLATE in found.text
        due = fees.quote("residential", session.entry_at, datetime.now(UTC), "small")
        assert due.total > 0
        action = found.text.split('action="')[1].split('"')[0]
        ordered = rig.call("POST", action, data={"provider": "alipay"}, follow_redirects=False)
        assert ordered.status_code == 303, ordered.text
        order_id = ordered.headers["location"].rsplit("/", 1)[1]
        order = rig.call("GET", f"/api/v1/pay/orders/{order_id}").json()
        assert order["amount"] == due.total
        checkout = await lane_exit.client.get(order["pay_url"])  # the phone opens Alipay's checkout
        assert checkout.status_code == 200, checkout.text
        assert await asyncio.to_thread(rig.provider.pay, order_id) == 200
        await lane_exit.payments.step()
        assert [row[:3] for row in lane_exit.epayments()] == [("prepayment", "alipay", due.total)]
        lane_exit.clock.advance(5 * 60)  # leaves within the grace
        await lane_exit.arrives()
        assert lane_exit.port.calls.count("open") == 1
    finally:
        await lane_exit.client.aclose()
        lane_exit.writer.stop()
        lane_exit.journal.close()


async def test_a_plate_search_never_shows_another_vehicle(rig: PaymentRig, lane_exit: Exit) -> None:
    first = await lane_exit.entered(hours_ago=1)
    await lane_exit.entered(hours_ago=1)
    assert await Outbox(lane_exit.journal, lane_exit.client, "lakeview-edge").send_once() > 0
    zone = ZoneInfo("Asia/Shanghai")
    start, end = first.entry_at - timedelta(hours=1), first.entry_at + timedelta(hours=1)
    window = {"entered_from": start.astimezone(zone).strftime("%Y-%m-%dT%H:%M"),
              "entered_to": end.astimezone(zone).strftime("%Y-%m-%dT%H:%M")}  # fmt: skip
    several = rig.call("GET", "/pay/lakeview", params={"plate": "3R7K", **window})
    assert several.status_code == 422
    assert 'data-refused="several"' in several.text
    assert PLATE not in several.text.replace('value="3R7K"', "")
    short = rig.call("GET", "/pay/lakeview", params={"plate": "B3", **window})
    assert 'data-refused="too_short"' in short.text
    none = rig.call("GET", "/pay/lakeview", params={"plate": "A9999", **window})
    assert 'data-refused="none"' in none.text


def office_as(rig: PaymentRig, role: Role) -> httpx.Client:
    """A browser at the office signed in as the test user of ``role`` (through the sign-in form)."""
    browser = httpx.Client(base_url=rig.central, timeout=10)
    token = csrf_token(browser.get("/office/sign-in").text)
    answer = browser.post("/office/sign-in", data={"csrf_token": token, "username": str(role), "password": PASSWORD})
    assert answer.status_code == 303, answer.text
    return browser


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([0-9a-f]+)"', html)
    assert match is not None, "no CSRF token on the page"
    return match[1]


def vend(browser: httpx.Client, page: str, reason: str) -> httpx.Response:
    """Post the remote vend form of ``page`` for lakeview's out-1."""
    data = {"csrf_token": csrf_token(page), "lane": "lakeview/out-1", "reason": reason}
    return browser.post("/office/remote-vends", data=data)


async def test_the_office_page_opens_an_unattended_lane_with_a_reason_journaled_and_audited(
    rig: PaymentRig, lane_exit: Exit
) -> None:
    lane = {"id": "out-1", "car_park_id": "lakeview", "name": "West exit", "direction": "exit"}
    answer = rig.call("POST", "/api/v1/lanes", headers=rig.staff.admin, json=lane)
    assert answer.status_code == 201, answer.text
    await lane_exit.entered(hours_ago=2.5)
    await lane_exit.arrives()
    lane_exit.payments.vends = RemoteVends(lane_exit.client, lane_exit.journal, {"out-1": lane_exit.runner},
                                           lambda: lane_exit.clock.now)  # fmt: skip
    auditor, supervisor = office_as(rig, Role.AUDITOR), office_as(rig, Role.SUPERVISOR)
    cashier = office_as(rig, Role.CASHIER)
    try:
        assert cashier.get("/office/remote-vends").status_code == 403
        read_only = auditor.get("/office/remote-vends")
        assert read_only.status_code == 200
        assert 'action="/office/remote-vends"' not in read_only.text.replace(
            'method="get" action="/office/remote-vends"', ""
        )
        refused = vend(auditor, read_only.text, "let them out")
        assert refused.status_code == 403
        page = supervisor.get("/office/remote-vends", headers={"Accept-Language": "en"})
        assert 'value="lakeview/out-1"' in page.text
        assert "Open the barrier" in page.text
        assert "开闸" in supervisor.get("/office/remote-vends").text
        forged = supervisor.post("/office/remote-vends", data={"csrf_token": "0" * 64, "lane": "lakeview/out-1",
                                                               "reason": "no token"})  # fmt: skip
        assert forged.status_code == 403
        unsaid = vend(supervisor, page.text, " ")
        assert unsaid.status_code == 422
        assert 'id="reason-error"' in unsaid.text  # said beside the field (in Chinese: the default language)
        assert lane_exit.port.calls.count("open") == 0
        reason = "intercom: the driver's card was declined twice; plate checked on camera"
        asked = vend(supervisor, page.text, reason)
        assert asked.status_code == 303, asked.text
        assert "done=requested" in asked.headers["location"]
        await lane_exit.payments.step()
        assert lane_exit.port.calls.count("open") == 1
        [(operator, why)] = lane_exit.journal.rows("SELECT operator, reason FROM manual_actions")
        assert (operator, why) == ("office:supervisor", reason)
        shown = auditor.get("/office/remote-vends?car_park=lakeview")
        assert 'data-outcome="opened"' in shown.text
        assert reason.replace("'", "&#39;") in shown.text
        audit = rig.call("GET", "/api/v1/audit?entity=remote_vend", headers=rig.staff[Role.SUPERVISOR]).json()
        assert [(entry["action"], entry["username"], entry["after"]["reason"]) for entry in audit] == [
            ("remote_vend.request", "supervisor", reason)]  # fmt: skip
    finally:
        for browser in (auditor, supervisor, cashier):
            browser.close()


async def test_pay_station_payments_reach_the_days_reconciliation_by_station(rig: PaymentRig, lane_exit: Exit) -> None:
    stations = PayStations({"ps-1": "kiosk-token-0123456789abcdef"}, lane_exit.ctx.park, {"out-1": lane_exit.runner},
                           lane_exit.journal, quote=lambda sid: quote_session(lane_exit.ctx.park, lane_exit.fees,
                                                                              "residential", sid, lane_exit.clock.now),
                           prepay=lane_exit.prepay, clock=lambda: lane_exit.clock.now, car_park="lakeview")  # fmt: skip
    app = web.Application()
    stations.attach(app)
    server = TestServer(app)
    await server.start_server()
    kiosk = httpx.AsyncClient(base_url=str(server.make_url("/kiosk/v1")), timeout=5,
                              headers={"Authorization": "Bearer kiosk-token-0123456789abcdef"})  # fmt: skip
    try:
        ahead = await lane_exit.entered(hours_ago=1.5, plate="粤B00001")
        await lane_exit.entered(hours_ago=2.5)
        await lane_exit.arrives()  # this one waits at out-1 and pays at the kiosk beside it
        for plate, reference in (("粤B00001", "T1"), (PLATE, "T2")):
            [vehicle] = (await kiosk.post("/quote", json={"plate": plate})).json()["vehicles"]
            paid = await kiosk.post("/payments", json={"session": vehicle["session"], "amount": vehicle["due"],
                                                       "reference": reference})  # fmt: skip
            assert paid.status_code == 200, paid.text
        assert ahead.paid == 1000
        assert lane_exit.port.calls.count("open") == 1
        assert await Outbox(lane_exit.journal, lane_exit.client, "lakeview-edge").send_once() > 0
        day = lane_exit.clock.now.astimezone(ZoneInfo("Asia/Shanghai")).date()
        answer = rig.call("GET", f"/api/v1/reconciliation/days/lakeview/{day}", headers=rig.staff[Role.SUPERVISOR])
        assert answer.status_code == 200, answer.text
        assert answer.json()["pay_stations"] == {
            "by_station": {"ps-1": {"count": 2, "amount": 2500, "ahead": 1000, "at_exit": 1500}},
            "total": 2500,
        }
    finally:
        await kiosk.aclose()
        await server.close()
