"""The booth console against hostile input, through real HTTP to a real edge daemon: a PIN sprayed across the
operator ids signs no one in, one source cannot lock every operator out, a source over its limit raises an alert
(state API and a ``security_alert`` journal record), every attempt is audited with its source; typed text with
control characters and absurd JSON bodies get a clear 4xx."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from playwright.async_api import async_playwright, expect

from edge.booth.operators import Operator, Outcome, Role
from edge.console.auth import ConsoleSessions
from tests.edge.console.test_api import FLOAT, Edge, error_code, until
from tests.edge.console.test_api import edge as edge  # the fixture: a real daemon with its console
from tests.edge.console.test_browser import CHROMIUM_ARGS

OTHER_SOURCE = "127.0.0.2"  # a second address on the loopback: another device at the booth


@pytest.fixture
async def elsewhere(edge: Edge) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.AsyncHTTPTransport(local_address=OTHER_SOURCE)
    async with httpx.AsyncClient(base_url=str(edge.http.base_url), transport=transport, timeout=10) as client:
        yield client


def add_collectors(edge: Edge) -> None:
    """c02 ... c11, the last one with PIN 1111 (c01 has 2468, s01 1357)."""
    for n in range(2, 12):
        edge.desk.operators.add(f"c{n:02d}", f"收费员{n}", Role.COLLECTOR, "1111" if n == 11 else f"{n:02d}99", by="t")


async def sign_in(client: httpx.AsyncClient, operator: str, pin: str) -> httpx.Response:
    return await client.post("/console/api/sign-in", json={"operator": operator, "pin": pin})


async def test_one_pin_sprayed_across_the_operator_ids_signs_no_one_in(
    edge: Edge, elsewhere: httpx.AsyncClient
) -> None:
    add_collectors(edge)
    answers = [await sign_in(edge.http, f"c{n:02d}", "1111") for n in range(1, 12)]
    assert [a.status_code for a in answers] == [401] * 5 + [429] * 6  # c11's PIN is 1111: refused all the same
    assert error_code(answers[-1]) == "auth.rate_limited"
    assert int(answers[-1].headers["Retry-After"]) > 0
    store = edge.desk.operators
    assert all(store.locked_until(f"c{n:02d}") is None for n in range(1, 12))  # nobody locked by the spray
    # Refused before any PIN was checked: the operators after the fifth saw only rate_limited attempts.
    assert {a.outcome for a in store.audit("c11")} == {Outcome.RATE_LIMITED}
    audit = store.audit()
    assert len(audit) == 11
    assert {a.source for a in audit} == {"127.0.0.1"}
    # Another device at the booth signs in as usual.
    assert (await sign_in(elsewhere, "c11", "1111")).status_code == 200
    assert store.audit()[-1].source == OTHER_SOURCE
    state = (await elsewhere.get("/console/api/state")).json()
    assert [(a["event"], a["source"], a["failures"]) for a in state["security_alerts"]] == [
        ("sign_in_flood", "127.0.0.1", 5)
    ]
    rows = edge.daemon.journal.rows("SELECT payload FROM records WHERE kind = 'security_alert'")
    assert [json.loads(r[0])["source"] for r in rows] == ["127.0.0.1"]  # journaled: the outbox takes it to central


async def test_thirty_requests_from_one_source_do_not_lock_every_operator_out(
    edge: Edge, elsewhere: httpx.AsyncClient
) -> None:
    add_collectors(edge)
    ids = ["s01", *(f"c{n:02d}" for n in range(1, 12))]
    answers = [await sign_in(edge.http, ids[n % len(ids)], "0000") for n in range(30)]
    assert sum(a.status_code == 429 for a in answers) == 25
    store = edge.desk.operators
    assert sum(store.locked_until(i) is not None for i in ids) == 0  # 5 failures spread: none reached 3 on one id
    # Even aimed at one operator, a source locks at most that one: the supervisor still signs in.
    assert (await sign_in(elsewhere, "c05", "0000")).status_code == 401
    for _ in range(2):
        await sign_in(elsewhere, "c05", "0000")
    assert store.locked_until("c05") is not None
    for _ in range(5):
        assert (await sign_in(elsewhere, "c06", "0000")).status_code in (401, 429)
    assert (await sign_in(elsewhere, "s01", "1357")).status_code == 429  # this source is over its limit now
    third = httpx.AsyncHTTPTransport(local_address="127.0.0.3")
    async with httpx.AsyncClient(base_url=str(edge.http.base_url), transport=third) as booth_pc:
        assert (await sign_in(booth_pc, "s01", "1357")).status_code == 200
    assert sum(store.locked_until(i) is not None for i in ids) == 1


async def test_absurd_json_bodies_get_a_clear_client_error(edge: Edge) -> None:
    headers = {"Content-Type": "application/json"}
    deep = await edge.http.post("/console/api/sign-in", content="[" * 100_000 + "]" * 100_000, headers=headers)
    assert (deep.status_code, error_code(deep)) == (400, "input.too_deep")
    big = await edge.http.post("/console/api/sign-in", content=b'{"pin": "' + b"1" * 300_000 + b'"}', headers=headers)
    assert (big.status_code, error_code(big)) == (413, "input.too_large")
    huge_number = await edge.http.post("/console/api/sign-in", content='{"pin": ' + "9" * 5000 + "}", headers=headers)
    assert (huge_number.status_code, error_code(huge_number)) == (422, "input.not_json")
    assert edge.desk.operators.audit() == []  # nothing reached the PIN check


async def test_typed_text_with_control_characters_is_refused_naming_the_field(edge: Edge) -> None:
    await edge.sign_in()
    await edge.post("shift/open", {"float": FLOAT, "cards_stock": 100})
    records = edge.daemon.journal.last_seq
    for reason, code in (
        ("gate\u0000stuck", "input.bad_text"),
        ("two\nlines", "input.bad_text"),
        ("bell\u0007", "input.bad_text"),
        ("\u202eesrever", "input.bad_text"),
        ("x" * 501, "input.too_long"),
    ):
        answer = await edge.post("lanes/in-1/manual-open", {"reason": reason})
        assert (answer.status_code, error_code(answer)) == (422, code), reason
        assert "reason" in answer.json()["error"]["message"]
    assert edge.daemon.journal.last_seq == records
    assert edge.ports["in-1"].commands == []
    ok = await edge.post("lanes/in-1/manual-open", {"reason": "救护车 ambulance, reader down"})
    assert ok.status_code == 200
    await until(lambda: edge.ports["in-1"].commands == ["open"], what="entry barrier opened")
    note = await edge.post("shift/close", {"counts": FLOAT, "cards_on_hand": 100, "cards_collected": 0,
                                           "note": "第一行\u0000"})  # fmt: skip
    assert (note.status_code, error_code(note)) == (422, "input.bad_text")
    assert "note" in note.json()["error"]["message"]


async def test_supervisor_pins_at_an_approval_count_against_the_requesting_device(
    edge: Edge, elsewhere: httpx.AsyncClient
) -> None:
    assert (await sign_in(elsewhere, "c01", "2468")).status_code == 200
    body = {"supervisor": "s01", "pin": "0000", "reason": "test"}
    answers = [await elsewhere.post("/console/api/lanes/in-1/reset-anti-passback", json=body) for _ in range(6)]
    assert [a.status_code for a in answers][-1] == 429
    approvals = [a for a in edge.desk.operators.audit() if a.purpose.startswith("approve:")]
    assert {a.source for a in approvals} == {OTHER_SOURCE}
    assert (await edge.sign_in("s01", "1357")).status_code == 423  # three wrong PINs locked that one supervisor
    assert (await edge.sign_in("c01", "2468")).status_code == 200  # the booth PC's own count is untouched


@pytest.mark.browser
async def test_the_booth_screen_shows_the_alert(edge: Edge, elsewhere: httpx.AsyncClient, chromium_path: str) -> None:
    for n in range(5):
        await sign_in(elsewhere, "c01", f"000{n}")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        page = await browser.new_page(viewport={"width": 1366, "height": 768})
        try:
            await page.goto(f"http://127.0.0.1:{edge.daemon.metrics_port}/console/")
            await page.fill("#sign-in-operator", "s01")
            await page.fill("#sign-in-pin", "1357")
            await page.keyboard.press("Enter")
            await expect(page.locator("#security-alert")).to_be_visible()
            await expect(page.locator("#security-alert")).to_contain_text(OTHER_SOURCE)
        finally:
            await browser.close()


async def test_a_state_change_sent_from_another_site_is_refused(edge: Edge) -> None:
    own = str(edge.http.base_url).rstrip("/")
    evil = {"Origin": "http://evil.example"}
    refused = await edge.http.post("/console/api/sign-in", json={"operator": "c01", "pin": "2468"}, headers=evil)
    assert (refused.status_code, error_code(refused)) == (403, "csrf.origin")
    assert edge.desk.operators.audit("c01") == []  # refused before the PIN was looked at
    signed = await edge.http.post("/console/api/sign-in", json={"operator": "c01", "pin": "2468"},
                                  headers={"Origin": own})  # fmt: skip
    assert signed.status_code == 200, signed.text
    body = {"float": FLOAT, "cards_stock": 10}
    for headers, code in (
        (evil, "csrf.origin"),
        ({"Origin": "null"}, "csrf.origin"),  # a sandboxed frame or a file
        ({"Sec-Fetch-Site": "cross-site"}, "csrf.cross_site"),
        ({"Sec-Fetch-Site": "same-site", "Origin": own}, "csrf.cross_site"),  # another port or host of the site
    ):
        answer = await edge.http.post("/console/api/shift/open", json=body, headers=headers)
        assert (answer.status_code, error_code(answer)) == (403, code), headers
    assert edge.desk.booth.current is None  # nothing was opened by those
    assert (await edge.http.get("/console/api/state", headers=evil)).status_code == 200  # reading is no change
    opened = await edge.http.post("/console/api/shift/open", json=body,
                                  headers={"Origin": own, "Sec-Fetch-Site": "same-origin"})  # fmt: skip
    assert opened.status_code == 200, opened.text


def test_a_console_session_left_unused_ends() -> None:
    now = [1000.0]
    sessions = ConsoleSessions(idle_limit_s=600, clock=lambda: now[0])
    operator = Operator("c01", "李收费", Role.COLLECTOR)
    signed = sessions.start(operator)
    now[0] += 599
    assert sessions.get(signed.token) is signed  # in use: the idle time starts again
    now[0] += 599
    assert sessions.get(signed.token) is signed
    now[0] += 601
    assert sessions.get(signed.token) is None
    assert signed.token not in sessions.sessions  # ended, not only hidden
