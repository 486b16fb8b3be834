"""Who may push to a camera listener, over real HTTP: source addresses, digest (MD5, SHA-256) and basic credentials;
refusals answered 401/403, counted, logged once per source, never put on the event queue."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator

import aiohttp
import pytest

from drivers.lpr.http import HttpCameraConfig, PlateHttpListener, PlateListenerConfig
from drivers.lpr.http_auth import CameraGuard, Credentials, digest_response, networks, parse_params
from drivers.lpr.metrics import REFUSED
from simulators.camera import CameraSim

PASSWORD = "s3cret-for-test"
CAMERAS = (
    HttpCameraConfig("elsewhere", allow_from=("192.0.2.7", "10.0.0.0/24")),
    HttpCameraConfig("digest", allow_from=("127.0.0.1",), credentials=Credentials("hik", PASSWORD)),
    HttpCameraConfig("basic", credentials=Credentials("hik", PASSWORD, "basic")),
    HttpCameraConfig("local"),
)


@pytest.fixture
async def listener() -> AsyncIterator[PlateHttpListener]:
    async with PlateHttpListener(PlateListenerConfig(CAMERAS, host="127.0.0.1", port=0, name="auth-test")) as server:
        yield server


def url(listener: PlateHttpListener, camera: str) -> str:
    return f"http://127.0.0.1:{listener.port}/lpr/{camera}"


def refused(reason: str) -> float:
    return float(REFUSED.labels("auth-test", reason)._value.get())


async def post(target: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, list[str]]:
    async with aiohttp.ClientSession() as session, session.post(target, data=body, headers=headers) as response:
        await response.read()
        return response.status, response.headers.getall("WWW-Authenticate", [])


def pass_holder_push() -> bytes:
    sim = CameraSim("attacker", seed=5)
    return sim.isapi_body(sim.read("粤B88888"), images=False)[0]


async def test_push_from_an_address_not_allowed_is_refused_counted_logged_once(
    listener: PlateHttpListener, caplog: pytest.LogCaptureFixture
) -> None:
    before = refused("address")
    with caplog.at_level(logging.WARNING, "drivers.lpr.http"):
        for _ in range(5):
            status, _ = await post(url(listener, "elsewhere"), pass_holder_push())
            assert status == 403
    assert refused("address") == before + 5
    assert listener.events.empty()  # never decided on
    lines = [r for r in caplog.records if "refused (address)" in r.getMessage()]
    assert len(lines) == 1


async def test_digest_with_the_right_password_is_read(listener: PlateHttpListener) -> None:
    sim = CameraSim("hik", seed=1, username="hik", password=PASSWORD)
    assert await sim.push_isapi(url(listener, "digest"), sim.read("粤B3R7K2"), images=False) == 200
    event = await asyncio.wait_for(listener.events.get(), 2)
    assert event.camera == "digest"


@pytest.mark.parametrize("password", ["wrong", ""])
async def test_digest_with_a_wrong_password_is_refused(listener: PlateHttpListener, password: str) -> None:
    before = refused("credentials-wrong")
    sim = CameraSim("hik", seed=1, username="hik", password=password)
    assert await sim.push_isapi(url(listener, "digest"), sim.read("粤B88888"), images=False) == 401
    assert refused("credentials-wrong") >= before + 1
    assert listener.events.empty()


async def test_challenge_offers_sha256_and_md5_with_qop_auth(listener: PlateHttpListener) -> None:
    status, challenges = await post(url(listener, "digest"), pass_holder_push())
    assert status == 401
    assert [parse_params(c.partition(" ")[2])["algorithm"] for c in challenges] == ["SHA-256", "MD5"]
    assert all(c.startswith("Digest ") and 'qop="auth"' in c for c in challenges)
    assert listener.events.empty()


@pytest.mark.parametrize(("algorithm", "digest"), [("MD5", hashlib.md5), ("SHA-256", hashlib.sha256)])
async def test_hand_made_digest_each_algorithm_and_no_replay(
    listener: PlateHttpListener, algorithm: str, digest: type
) -> None:
    target = url(listener, "digest")
    _, challenges = await post(target, b"")
    nonce = parse_params(challenges[0].partition(" ")[2])["nonce"]
    uri, cnonce, nc = "/lpr/digest", "0a4f113b", "00000001"

    def h(text: str) -> str:
        return str(digest(text.encode()).hexdigest())

    response = h(f"{h(f'hik:parkgate:{PASSWORD}')}:{nonce}:{nc}:{cnonce}:auth:{h(f'POST:{uri}')}")
    header = (f'Digest username="hik", realm="parkgate", nonce="{nonce}", uri="{uri}", response="{response}", '
              f"qop=auth, nc={nc}, cnonce=\"{cnonce}\", algorithm={algorithm}")  # fmt: skip
    body = CameraSim("hik", seed=3).isapi_body(CameraSim("hik", seed=3).read("粤B3R7K2"), images=False)[0]
    assert (await post(target, body, {"Authorization": header}))[0] == 200
    before = refused("nonce-replayed")
    assert (await post(target, body, {"Authorization": header}))[0] == 401  # the same request again: a replay
    assert refused("nonce-replayed") == before + 1
    assert listener.events.qsize() == 1


async def test_basic_credentials(listener: PlateHttpListener) -> None:
    sim = CameraSim("hik", seed=2, username="hik", password=PASSWORD, auth="basic")
    assert await sim.push_isapi(url(listener, "basic"), sim.read("粤B3R7K2"), images=False) == 200
    wrong = CameraSim("hik", seed=2, username="hik", password="guess", auth="basic")
    assert await wrong.push_isapi(url(listener, "basic"), wrong.read("粤B88888"), images=False) == 401
    basic_on_digest = CameraSim("hik", seed=2, username="hik", password=PASSWORD, auth="basic")
    assert await basic_on_digest.push_isapi(url(listener, "digest"), sim.read("粤B88888"), images=False) == 401
    assert listener.events.qsize() == 1


async def test_loopback_is_the_default_without_addresses_or_credentials(listener: PlateHttpListener) -> None:
    sim = CameraSim("local", seed=4)
    assert await sim.push_isapi(url(listener, "local"), sim.read("粤B3R7K2"), images=False) == 200


def test_rfc_7616_examples() -> None:
    # RFC 7616 section 3.9.1: the same request with MD5 and with SHA-256
    common = {
        "username": "Mufasa", "realm": "http-auth@example.org", "password": "Circle of Life", "method": "GET",
        "uri": "/dir/index.html", "nonce": "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", "nc": "00000001",
        "cnonce": "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", "qop": "auth",
    }  # fmt: skip
    assert digest_response(algorithm="MD5", **common) == "8ca523f5e9506fed4657c9700eebdbec"
    assert digest_response(algorithm="SHA-256", **common) == (
        "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
    )


def test_stale_nonce_is_answered_stale() -> None:
    now = [1000.0]
    guard = CameraGuard(networks(["127.0.0.1"]), Credentials("hik", PASSWORD), clock=lambda: now[0])
    nonce = guard.new_nonce()
    now[0] += 301
    response = digest_response(algorithm="MD5", username="hik", realm="parkgate", password=PASSWORD, method="POST",
                               uri="/x", nonce=nonce, nc="00000001", cnonce="c", qop="auth")  # fmt: skip
    header = (f'Digest username="hik", realm="parkgate", nonce="{nonce}", uri="/x", response="{response}", qop=auth, '
              'nc=00000001, cnonce="c"')  # fmt: skip
    verdict = guard.check("127.0.0.1", "POST", "/x", header)
    assert (verdict.status, verdict.reason) == (401, "nonce-stale")
    assert "stale=true" in verdict.challenge[0]
    forged = header.replace(nonce, "MTAwMC4wMDA6ZGVhZGJlZWY=")
    assert guard.check("127.0.0.1", "POST", "/x", forged).reason == "credentials-wrong"
    assert guard.check("::ffff:127.0.0.1", "POST", "/x", None).reason == "credentials-missing"
    assert guard.check("192.0.2.1", "POST", "/x", header).status == 403
