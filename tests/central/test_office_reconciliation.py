"""The supervisor's reconciliation pages through their routes (TestClient, central on PostgreSQL), with journals the
real edge code wrote (tests/central/edge_site.py): the queue by state, one shift with a cash shortage and a fee
re-check difference (both breakdowns, the entry picture the edge uploaded), the flag with a note, the sign-off, the
shift's own collector refused, the day closed or not; the images kept from everyone but the supervision."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import insert

from central.core.config import Settings
from central.core.db import make_engine
from central.core.migrate import upgrade
from central.core.security import Role
from central.main import create_app
from central.models import User
from edge.store.evidence_upload import EvidenceUploader
from edge.store.journal import Journal
from tests.central.conftest import PASSWORD, Operators, password_hash
from tests.central.edge_site import DAY, EdgeSite
from tests.central.office import error_beside, post, sign_in
from tests.central.scenario import Site, make_site
from tests.central.test_reconciliation import plain_shift

pytestmark = pytest.mark.postgres

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 4 + b"\xff\xd9"
IMAGE = "2026-11-27/0193f1c2-entry-plate.jpg"


@pytest.fixture
def site(client: TestClient, as_role: Operators) -> Site:
    return make_site(client, as_role.admin)


def upload(client: TestClient, site: Site, name: str, data: bytes, token: str | None = None) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {token or site.edge_token}", "Content-Type": "image/jpeg"}
    answer = client.post(f"/api/v1/edges/images/{name}", content=data, headers=headers)
    return answer.status_code, answer.json().get("code", "") if answer.status_code != 200 else ""


def short_and_cut_rate_shift(tmp_path: Path, client: TestClient, site: Site, operator: str = "c01") -> str:
    """A shift 10.00 short whose fees the edge cut below the tariff; the first vehicle's entry has a picture."""
    edge = EdgeSite(tmp_path, site, cut_rate=True)
    edge.open_shift(operator)
    edge.enter("粤B10001", image=IMAGE)
    edge.enter("粤B10002")
    edge.tick(2 * 3600)
    edge.leave_paying("粤B10001", operator, "cash", 2000)
    edge.leave_paying("粤B10002", operator, "epay")
    edge.tick(600)
    shift = edge.close(operator, short=1000)
    edge.push(client)
    return shift.id


def test_the_supervisor_flags_a_short_shift_with_a_recheck_difference_and_sees_its_image(
    tmp_path: Path, client: TestClient, site: Site, app: FastAPI
) -> None:
    app.state.settings.edge_images_dir = str(tmp_path / "images")
    shift = short_and_cut_rate_shift(tmp_path, client, site)
    assert upload(client, site, IMAGE, JPEG) == (200, "")
    assert upload(client, site, IMAGE, JPEG) == (200, "")  # sent again after a timeout: kept once

    sign_in(client, Role.SUPERVISOR)
    client.cookies.set("parkgate_office_lang", "en", path="/office")
    queue = client.get("/office/reconciliation", params={"day": DAY, "car_park": "lakeview"}).text
    to_review = queue[queue.index('data-state="to_review"') : queue.index('data-state="flagged"')]
    assert f'href="/office/reconciliation/shifts/{shift}"' in to_review
    assert "Cash shortage" in to_review

    page = client.get(f"/office/reconciliation/shifts/{shift}").text
    assert 'data-finding="cash.shortage"' in page
    assert "Short by 10.00 CNY." in page
    assert page.count('data-finding="fee.charged_below_tariff"') == 2
    assert page.count('data-breakdown="edge"') == page.count('data-breakdown="central"') == 2
    assert f'<img src="/office/evidence/lakeview-edge/{IMAGE}"' in page
    difference = re.search(r'data-figure="difference">.*?<td class="number attention">([^<]*)</td>', page, re.S)
    assert difference is not None
    assert difference[1] == "-10.00"
    image = client.get(f"/office/evidence/lakeview-edge/{IMAGE}")
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/jpeg"
    assert image.content == JPEG

    status, answer = post(client, f"/office/reconciliation/shifts/{shift}/review", {"decision": "flagged", "note": ""},
                          page=f"/office/reconciliation/shifts/{shift}")  # fmt: skip
    assert status == 422
    assert error_beside(answer, "note") == "Write a note: a flag, or a sign-off of a shift with exceptions, needs one."
    status, where = post(client, f"/office/reconciliation/shifts/{shift}/review",
                         {"decision": "flagged", "note": "短款10元, 收费员复核"},
                         page=f"/office/reconciliation/shifts/{shift}")  # fmt: skip
    assert status == 303
    flagged = client.get(where).text
    assert "The shift is flagged with your note." in flagged
    assert 'data-state="flagged"' in flagged
    assert "短款10元, 收费员复核" in flagged
    assert 'data-finding="cash.shortage"' in flagged  # the difference stays visible after the decision
    queue = client.get("/office/reconciliation", params={"day": DAY, "state": "flagged"}).text
    assert f'href="/office/reconciliation/shifts/{shift}"' in queue
    assert 'data-state="to_review"' not in queue

    # Others may not see the picture, and the auditor reads without a decision form.
    client.cookies.clear()
    sign_in(client, Role.FRONT_DESK)
    assert client.get(f"/office/evidence/lakeview-edge/{IMAGE}").status_code == 403
    assert client.get(f"/office/reconciliation/shifts/{shift}").status_code == 403
    client.cookies.clear()
    sign_in(client, Role.AUDITOR)
    read = client.get(f"/office/reconciliation/shifts/{shift}")
    assert read.status_code == 200
    assert "/review" not in read.text
    assert client.get(f"/office/evidence/lakeview-edge/{IMAGE}").status_code == 200
    status, _answer = post(
        client,
        f"/office/reconciliation/shifts/{shift}/review",
        {"decision": "signed_off", "note": "x"},
        page=f"/office/reconciliation/shifts/{shift}",
    )
    assert status == 403


def test_a_clean_shift_is_signed_off_and_its_day_closes_and_the_collector_cannot_review_their_own(
    tmp_path: Path, client: TestClient, site: Site
) -> None:
    edge = EdgeSite(tmp_path, site)
    clean = plain_shift(edge, "c01")
    own = plain_shift(edge, "supervisor", n=1)  # a supervisor who took the booth for a shift
    edge.push(client)
    sign_in(client, Role.SUPERVISOR)
    client.cookies.set("parkgate_office_lang", "en", path="/office")
    day = client.get(f"/office/reconciliation/days/lakeview/{DAY}").text
    assert 'data-closed="no"' in day
    assert "The day is open." in day

    status, answer = post(
        client,
        f"/office/reconciliation/shifts/{own.id}/review",
        {"decision": "signed_off", "note": ""},
        page=f"/office/reconciliation/shifts/{own.id}",
    )
    assert status == 403
    assert "You worked this shift: another supervisor must review it." in answer
    status, _where = post(
        client,
        f"/office/reconciliation/shifts/{clean.id}/review",
        {"decision": "signed_off", "note": ""},
        page=f"/office/reconciliation/shifts/{clean.id}",
    )
    assert status == 303
    assert 'data-state="signed_off"' in client.get(f"/office/reconciliation/shifts/{clean.id}").text
    day = client.get(f"/office/reconciliation/days/lakeview/{DAY}").text
    assert 'data-closed="no"' in day
    why = day[day.index('class="why"') :]
    why = why[: why.index("</ul>")]
    assert own.id[-12:] in why
    assert clean.id[-12:] not in why


def test_edge_image_uploads_are_bounded(
    tmp_path: Path, client: TestClient, site: Site, app: FastAPI, as_role: Operators
) -> None:
    app.state.settings.edge_images_dir = str(tmp_path / "images")
    app.state.settings.edge_image_max_bytes = 20_000
    short_and_cut_rate_shift(tmp_path, client, site)
    assert upload(client, site, IMAGE, JPEG + b"\0" * 20_000) == (413, "image.too_large")
    assert upload(client, site, IMAGE, b"GIF89a" + b"\0" * 100) == (415, "image.not_an_image")
    for bad in ("..%2F..%2Fetc%2Fpasswd.jpg", "2026-11-27/..%2F..%2Fx.jpg", "2026-11-27/a.exe", "x.jpg",
                "2026-11-27/%2Fetc.jpg", "2026-11-27/a/b.jpg"):  # fmt: skip
        assert upload(client, site, bad, JPEG)[0] in (404, 422), bad
    assert upload(client, site, "2026-11-27/never-named-plate.jpg", JPEG) == (409, "image.not_named")
    assert upload(client, site, IMAGE, JPEG, token="pge_not-a-token") == (401, "auth.invalid_edge_token")
    supervisor = as_role[Role.SUPERVISOR]["Authorization"].split()[1]  # a user's token is not an edge's
    assert upload(client, site, IMAGE, JPEG, token=supervisor) == (401, "auth.invalid_edge_token")
    other = make_site(client, as_role.admin, car_park="harbour")  # a real edge, but not the one that named it
    assert upload(client, site, IMAGE, JPEG, token=other.edge_token) == (409, "image.not_named")
    assert not list((tmp_path / "images").rglob("*.jpg"))
    assert upload(client, site, IMAGE, JPEG) == (200, "")
    assert [p.name for p in (tmp_path / "images" / "lakeview-edge").rglob("*.jpg")] == [IMAGE.split("/")[1]]


async def _outbox_images(app: FastAPI, site: Site, journal: Journal, folder: Path) -> tuple[int, int]:
    """One round of the edge's image upload against central's app, with the edge's token."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://central",
                                 headers=site.edge_headers) as http:  # fmt: skip
        uploader = EvidenceUploader(journal, http, folder)
        try:
            return await uploader.upload_once(), uploader.uploaded
        finally:
            uploader.close()


def test_the_edge_uploads_the_picture_of_a_manual_open_after_its_record(
    tmp_path: Path, client: TestClient, site: Site, app: FastAPI
) -> None:
    app.state.settings.edge_images_dir = str(tmp_path / "central-images")
    (tmp_path / "edge").mkdir()
    edge = EdgeSite(tmp_path / "edge", site)
    picture = "2026-11-27/0193f1c2-booth-plate.jpg"
    (tmp_path / "edge" / "images" / "2026-11-27").mkdir(parents=True)
    (tmp_path / "edge" / "images" / picture).write_bytes(JPEG)
    edge.open_shift("c01")
    edge.manual_open("c01", evidence=picture)
    edge.manual_open("c01", evidence="2026-11-27/0193f1c2-gone-plate.jpg")  # the picture was never written
    huge = "2026-11-27/0193f1c2-huge-vehicle.jpg"
    (tmp_path / "edge" / "images" / huge).write_bytes(JPEG + b"\0" * 2_000_000)  # above the edge's cap
    edge.manual_open("c01", evidence=huge)
    shift = edge.close("c01")
    folder = tmp_path / "edge" / "images"
    assert asyncio.run(_outbox_images(app, site, edge.journal, folder)) == (0, 0)  # nothing acknowledged yet
    edge.push(client)
    dealt, uploaded = asyncio.run(_outbox_images(app, site, edge.journal, folder))
    assert uploaded == 1
    assert dealt >= 3
    assert (tmp_path / "central-images" / "lakeview-edge" / picture).read_bytes() == JPEG
    assert not (tmp_path / "central-images" / "lakeview-edge" / huge).exists()
    assert asyncio.run(_outbox_images(app, site, edge.journal, folder)) == (0, 0)  # the cursor moved on

    sign_in(client, Role.SUPERVISOR)
    client.cookies.set("parkgate_office_lang", "en", path="/office")
    page = client.get(f"/office/reconciliation/shifts/{shift.id}").text
    assert f'<img src="/office/evidence/lakeview-edge/{picture}"' in page
    assert "0193f1c2-gone-plate.jpg" in page  # named, but central has no copy


def test_the_reconciliation_pages_and_the_images_on_the_embedded_sqlite_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'central.sqlite3'}"
    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        for role in (Role.ADMIN, Role.SUPERVISOR):
            conn.execute(insert(User).values(username=role.value, full_name="", role=role.value,
                                             password_hash=password_hash(), active=True))  # fmt: skip
    engine.dispose()
    app = create_app(Settings(database_url=url, edge_images_dir=str(tmp_path / "images")))
    try:
        with TestClient(app) as client:
            login = client.post("/api/v1/auth/login", json={"username": "admin", "password": PASSWORD})
            admin = {"Authorization": f"Bearer {login.json()['token']}"}
            site = make_site(client, admin)
            (tmp_path / "edge").mkdir()
            shift = short_and_cut_rate_shift(tmp_path / "edge", client, site)
            assert upload(client, site, "2026-11-27/never-named-plate.jpg", JPEG) == (409, "image.not_named")
            assert upload(client, site, IMAGE, JPEG) == (200, "")
            sign_in(client, Role.SUPERVISOR)
            queue = client.get("/office/reconciliation", params={"day": DAY}).text
            assert f'href="/office/reconciliation/shifts/{shift}"' in queue
            page = client.get(f"/office/reconciliation/shifts/{shift}").text
            assert 'data-finding="cash.shortage"' in page
            assert f'<img src="/office/evidence/lakeview-edge/{IMAGE}"' in page
            assert client.get(f"/office/evidence/lakeview-edge/{IMAGE}").content == JPEG
    finally:
        app.state.engine.dispose()
