"""The booth console's HTTP API fuzzed over real HTTP against a real edge daemon (issue 18).

The console is an aiohttp app without an OpenAPI document, so schemathesis cannot drive it; instead the fuzzer
reads the routes from the running app's router (a new route is fuzzed without touching this file), and the field
names from the handlers' source, and sends seeded random requests as a signed-in collector: valid and odd bodies
(wrong types, huge and negative numbers, digits of other scripts, NaN, deep and wide objects, not JSON at all), odd
path parameters and queries. A shift is open and a vehicle waits at the exit, so the money paths are reached; the
fuzzer signs in again and reopens the shift when a generated request ends them.

Checked on every answer: no 5xx; every refusal (4xx) is the console's JSON error with a code and a message, and a
refused field (``input.*``) is named in the message.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from edge.booth.sign_in_guard import SourceGuard
from edge.console import app as console_app
from tests.edge.console.test_api import FLOAT, Edge, edge
from tests.fuzzing import Campaign, check

__all__ = ["edge"]  # the fixture

FIELDS = sorted(set(re.findall(r'(?:text|amount|count|counts|data\.get)\(data, "([a-z_]+)"',
                               Path(console_app.__file__).read_text(encoding="utf-8")))
                | {"acknowledge", "float", "counts"})  # fmt: skip
SKIPPED = ("/console/api/events",)  # the live stream never ends: tests/edge/console/test_api.py covers it
ODD = [None, True, False, 0, -1, 1, 7, 2**31, 2**63, -(2**63), 10**30, 1.5, -0.0, float("nan"), float("inf"), "",
       " ", "0", "1", "20.00", "-5.00", "1e3", "0.001", "9" * 30, "²", "٣", "１２", "12.5０", "\u0000", "a\nb",
       "粤B3R7K2", "x" * 600, "2026-11-27T08:30", "cash", "card", "wechat", "lost_card", "c01", "2468", "1357",
       [], [1, 2], {}, {"10000": 1}, {"²": 1}, {"100": "٣"}, {"100": -1}, {"1" * 13: 1}, {"50": 1.5}]  # fmt: skip
COUNT_KEYS = ["10000", "100", "1", "0", "7", "²", "٣", "１２", "-1", "1e3", " 5", "", "0" * 13]
NUMBERS = ["tendered", "cards_stock", "cards_on_hand", "cards_collected"]
SEGMENTS = ["in-1", "out-1", "nope", "1", "0", "-1", "99999999999999999999", "%00", "..", "x" * 300, "²", "1e3"]


def routes(app: web.Application) -> list[tuple[str, str]]:
    out = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("formatter") or info.get("path")
        if route.method in ("GET", "POST") and path and path.startswith("/console/api") and path not in SKIPPED:
            out.append((route.method, path))
    return sorted(set(out))


# A body every handler would take (each reads the fields it needs): one or two of them made odd reach its checks.
REAL: dict[str, Any] = {"float": FLOAT, "counts": FLOAT, "cards_stock": 100, "cards_on_hand": 100,
                        "cards_collected": 0, "bag": "TB-1", "method": "cash", "tendered": "20.00", "reason": "test",
                        "supervisor": "s01", "pin": "1357", "operator": "c01", "note": "n", "witness": "s01",
                        "coupon": "C-1", "category": "barrier", "device": "barrier", "session": "1",
                        "reference": "R-1", "payment": "1", "list_kind": "blacklist", "acknowledge": True}  # fmt: skip


def odd_body(rng: random.Random) -> Any:
    pick = rng.random()
    if pick < 0.03:
        return rng.choice([[], "text", 5, None, [{"a": 1}]])
    body: dict[str, Any] = dict(REAL) if pick < 0.7 else {}
    for name in rng.sample(FIELDS, rng.randint(1, 2) if body else rng.randint(0, 5)):
        if body and rng.random() < 0.2:
            body.pop(name, None)
        else:
            body[name] = rng.choice(ODD)
    if rng.random() < 0.3:  # the cash counts: the most arithmetic behind one field
        body["float" if rng.random() < 0.5 else "counts"] = {rng.choice(COUNT_KEYS): rng.choice(ODD)
                                                              for _ in range(rng.randint(1, 3))}  # fmt: skip
    if rng.random() < 0.2:
        body[rng.choice(NUMBERS)] = rng.choice(ODD)
    if rng.random() < 0.05:
        body["deep"] = json.loads("[" * 20 + "]" * 20)
    return body


def fill(path: str, rng: random.Random) -> str:
    return re.sub(r"\{[a-z]+\}", lambda _: rng.choice(SEGMENTS), path)


async def console_campaign(edge: Edge, count: int, seed: int) -> Campaign:
    rng = random.Random(seed)
    assert edge.daemon._web is not None
    table = routes(edge.daemon._web.app)
    assert len(table) >= 20, table

    async def ready() -> None:
        if (await edge.http.get("/console/api/me")).status_code != 200:
            # Generated sign-ins and supervisor PINs fail from this client's address: forget them, or the limits
            # (tested in tests/edge/console/test_api.py) refuse the fuzzer's own sign-in.
            operators = edge.desk.operators
            operators.guard = SourceGuard(operators.clock)
            with operators.db:
                operators.db.execute("UPDATE booth_operator SET failures = 0, locked_until = NULL")
            signed = await edge.sign_in()
            assert signed.status_code == 200, signed.text
        if edge.desk.booth.current is None and rng.random() < 0.6:  # else shift/open's checks get fuzzed too
            # best effort: a state the generated requests made (a reopened report) may refuse it, rightly
            await edge.post("shift/open", {"float": FLOAT, "cards_stock": 100, "acknowledge": True})

    assert (await edge.sign_in()).status_code == 200
    opened = await edge.post("shift/open", {"float": FLOAT, "cards_stock": 100, "acknowledge": True})
    assert opened.status_code == 200, opened.text
    await edge.enter("粤B12345")
    edge.clock.advance(hours=2)
    await edge.arrive_at_exit("粤B12345")
    answers: list[tuple[str, str, Any, httpx.Response]] = []

    async def one(index: int) -> None:
        if index % 25 == 0:
            await ready()
        method, template = rng.choice(table)
        url = fill(template, rng)
        if method == "GET":
            query = {name: rng.choice([str(v) for v in ODD[:40]]) for name in rng.sample(["q", "plate", "limit",
                     "from", "to", "since", "kind"], rng.randint(0, 2))}  # fmt: skip
            response = await edge.http.get(url, params=query)
            sent: Any = query
        elif rng.random() < 0.05:
            sent = rng.choice([b"{", b"\xff\xfe", b"[" * 5000, b"null", b'{"a": NaN}'])
            response = await edge.http.post(url, content=sent, headers={"Content-Type": rng.choice(
                ["application/json", "text/plain", "application/x-www-form-urlencoded"])})  # fmt: skip
        else:
            sent = odd_body(rng)
            response = await edge.http.post(url, content=json.dumps(sent), headers={"Content-Type": "application/json"})
        answers.append((method, url, sent, response))
        shown = f"{method} {url} {sent!r:.200}"
        check(response.status_code < 500, f"{shown} -> {response.status_code} {response.text:.300}")
        if response.status_code >= 400:
            try:
                problem = response.json()["error"]
            except (ValueError, KeyError, TypeError):
                raise AssertionError(f"{method} {url} -> {response.status_code} without the JSON error: "
                                     f"{response.text:.200}") from None  # fmt: skip
            code, message = problem.get("code", ""), problem.get("message", "")
            check(bool(code) and bool(message), f"{method} {url} -> unspecific refusal {problem}")
            if code in ("input.bad_field", "input.bad_amount", "input.bad_count", "input.missing", "input.bad_counts"):
                named = [f for f in (*FIELDS, "denomination") if f in message]
                check(bool(named), f"{method} {url} {sent!r:.200} -> {code} without the field named: {message}")

    campaign = Campaign("booth console HTTP API", ())
    for index in range(count):
        campaign.inputs += 1
        try:
            await one(index)
        except AssertionError as err:
            campaign.violations += 1
            keep(campaign, str(err))
        except Exception as err:  # a dropped connection or a client error: the server failed
            campaign.crashes += 1
            keep(campaign, f"{type(err).__name__}: {err}")
    statuses = sorted({a[3].status_code for a in answers})
    campaign.examples.append(f"statuses seen: {statuses}; routes: {len(table)}")
    return campaign


def keep(campaign: Campaign, text: str) -> None:
    if len(campaign.examples) < 5:
        campaign.examples.append(text[:400])


async def test_fuzz_console_api_short(edge: Edge) -> None:
    (await console_campaign(edge, 400, seed=1)).finish("short")


@pytest.mark.fuzz
@pytest.mark.timeout(3600)
async def test_fuzz_console_api_long(edge: Edge) -> None:
    (await console_campaign(edge, 20_000, seed=2)).finish("long")


@pytest.mark.parametrize("digits", ["²", "٣", "１２"])
async def test_counts_in_other_scripts_digits_are_refused_with_the_field_named(edge: Edge, digits: str) -> None:
    """``"²".isdigit()`` is true but ``int("²")`` raises: a count or a denomination written so was a 500."""
    assert (await edge.sign_in()).status_code == 200
    for body in ({"float": {digits: 1}, "cards_stock": 100}, {"float": {"100": digits}, "cards_stock": 100},
                 {"float": FLOAT, "cards_stock": digits}):  # fmt: skip
        response = await edge.post("shift/open", {**body, "acknowledge": True})
        assert response.status_code == 422, (body, response.text)
        assert any(name in response.json()["error"]["message"] for name in ("float", "cards_stock", "denomination"))
    assert edge.desk.booth.current is None


async def test_an_unknown_api_path_or_method_answers_the_json_error(edge: Edge) -> None:
    """Found by the fuzzer: a path no route takes answered aiohttp's plain-text 404, not the console's error."""
    for method, path in (("GET", "/console/api/nope"), ("POST", "/console/api/lanes/in-1/pay/extra"),
                         ("GET", "/console/api/sign-in"), ("DELETE", "/console/api/me"), ("GET", "/console/api"),
                         ("GET", "/console/api/")):  # fmt: skip
        response = await edge.http.request(method, path)
        assert response.status_code == 404, (method, path)
        assert response.json()["error"]["code"] == "api.not_found"
        assert path in response.json()["error"]["message"]
    assert (await edge.http.get("/console/api/me")).status_code == 401  # the real routes still come first


async def test_an_amount_that_is_not_a_number_is_refused_with_its_field_named(edge: Edge) -> None:
    """Found by the fuzzer's long run: the refusal said "amount 'card' is not a decimal number", not which field."""
    assert (await edge.sign_in()).status_code == 200
    response = await edge.post("lanes/out-1/pay", {"method": "cash", "tendered": "card"})
    assert response.status_code == 422
    assert response.json()["error"]["message"].startswith("tendered: ")
