"""The office's data-subject request page (TestClient, central on PostgreSQL, journals the real edge code wrote and
pushed): only the API's exporters (supervisor, admin) may open it, look up or download; each lookup and download
is audited with its reason; the downloads hold what the API's export holds; a bad plate or a missing reason is
refused beside its field; what a purge removed is shown as purged."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from central.core.security import Role
from central.models import AuditEntry
from central.office.navigation import PAGES
from central.privacy import purge
from parking.privacy import Retention
from tests.central.conftest import Operators
from tests.central.edge_site import EdgeSite
from tests.central.office import csrf_of, error_beside, sign_in
from tests.central.scenario import make_site, ok
from tests.central.test_privacy import NOW, OLD_PLATES, YOUNG_PLATES, a_shift

pytestmark = pytest.mark.postgres

PAGE = "/office/plate-records"
EXPORT = "/office/plate-records/export"
REASON = "data-subject request DSR-2026-031 (owner by mail)"
EN = {"Accept-Language": "en"}


@pytest.fixture
def pushed(tmp_path: Path, client: TestClient, as_role: Operators) -> EdgeSite:
    edge = EdgeSite(tmp_path, make_site(client, as_role.admin))
    a_shift(edge, OLD_PLATES)
    edge.tick((NOW - timedelta(days=20) - edge.now).total_seconds())
    a_shift(edge, YOUNG_PLATES)
    assert edge.push(client).chain.value == "ok"
    return edge


def _audits(engine: Engine, action: str) -> list[AuditEntry]:
    with Session(engine) as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def _post(client: TestClient, path: str, data: dict[str, str], token: str) -> tuple[int, str, bytes, str]:
    answer = client.post(path, data={"csrf_token": token, **data}, headers=EN, follow_redirects=False)
    return answer.status_code, answer.text, answer.content, answer.headers.get("content-type", "")


def test_the_page_is_the_api_exporters_and_listed_with_the_pages() -> None:
    assert PAGES["plate_records"].path == PAGE
    assert PAGES["plate_records"].roles == {Role.SUPERVISOR, Role.ADMIN}


@pytest.mark.parametrize("role", list(Role))
def test_only_the_supervisor_and_the_admin_may_look_up_or_download(
    client: TestClient, central_engine: Engine, role: Role
) -> None:
    landing = sign_in(client, role)
    allowed = role in (Role.SUPERVISOR, Role.ADMIN)
    assert client.get(PAGE).status_code == (200 if allowed else 403)
    token = csrf_of(client, PAGE if allowed else landing)  # a signed-in operator's own token: only the role refuses
    request = {"plate": "粤B11001", "reason": REASON}
    status, *_ = _post(client, PAGE, request, token)
    assert status == (200 if allowed else 403)
    status, *_ = _post(client, EXPORT, request | {"format": "json"}, token)
    assert status == (200 if allowed else 403)
    lookups, exports = _audits(central_engine, "plate.lookup"), _audits(central_engine, "plate.export")
    assert [(a.username, a.entity_id) for a in lookups + exports] == ([(str(role), "粤B11001")] * 2 if allowed else [])


def test_a_post_without_the_csrf_token_is_refused(client: TestClient, central_engine: Engine) -> None:
    sign_in(client, Role.SUPERVISOR)
    for path in (PAGE, EXPORT):
        answer = client.post(path, data={"plate": "粤B11001", "reason": REASON, "format": "json"}, headers=EN)
        assert answer.status_code == 403
        assert "security token" in answer.text
    assert _audits(central_engine, "plate.lookup") == _audits(central_engine, "plate.export") == []


def test_a_lookup_shows_the_plates_records_and_is_audited_with_its_reason(
    pushed: EdgeSite, client: TestClient, as_role: Operators, central_engine: Engine
) -> None:
    sign_in(client, Role.SUPERVISOR)
    status, html, _body, _type = _post(client, PAGE, {"plate": " 粤b·11001 ", "reason": REASON}, csrf_of(client, PAGE))
    assert status == 200, html
    api = ok(TestClient(client.app).get(f"/api/v1/plates/粤B11001/records?reason={REASON}", headers=as_role.admin))
    assert 'data-plate="粤B11001"' in html
    assert f"{len(api['records'])} records, 1 transactions, 1 pictures named." in html
    assert html.count("<tr data-seq=") == len(api["records"])
    assert "9.00 CNY" in html  # the fee
    assert "11001-plate.jpg" in html
    assert "named, not at central" in html
    assert not any(other in html for other in (*OLD_PLATES, *YOUNG_PLATES[1:]))
    assert 'data-purged="images"' not in html
    assert 'data-purged="events"' not in html
    [lookup] = _audits(central_engine, "plate.lookup")
    assert (lookup.username, lookup.entity, lookup.entity_id) == ("supervisor", "plate", "粤B11001")
    assert lookup.after == {"via": "office", "records": len(api["records"]), "transactions": 1, "images": 1,
                            "operator_reason": REASON}  # fmt: skip
    assert lookup.at is not None
    assert [a.username for a in _audits(central_engine, "plate.export")] == ["admin"]  # the API call above


def test_the_downloads_hold_what_the_api_exports_and_each_is_audited(
    pushed: EdgeSite, client: TestClient, as_role: Operators, central_engine: Engine
) -> None:
    api = TestClient(client.app)
    expected = ok(api.get(f"/api/v1/plates/粤B11001/records?reason={REASON}", headers=as_role.admin))
    expected_csv = api.get(f"/api/v1/plates/粤B11001/records?reason={REASON}&format=csv", headers=as_role.admin)
    sign_in(client, Role.SUPERVISOR)
    token = csrf_of(client, PAGE)
    _status, html, _body, _type = _post(client, PAGE, {"plate": "粤B11001", "reason": REASON}, token)
    assert 'action="/office/plate-records/export"' in html
    assert 'value="xlsx"' in html

    status, _text, body, media = _post(client, EXPORT, {"plate": "粤B11001", "reason": REASON, "format": "json"}, token)
    assert status == 200
    assert media.startswith("application/json")
    assert json.loads(body) == expected
    assert len(expected["records"]) > 3
    assert expected["transactions"]

    status, _text, body, media = _post(client, EXPORT, {"plate": "粤B11001", "reason": REASON, "format": "xlsx"}, token)
    assert status == 200
    assert media.startswith("application/vnd.openxmlformats")
    book = load_workbook(io.BytesIO(body))
    assert book.sheetnames == ["records", "transactions", "images"]
    sheet_rows = [["" if v is None else str(v) for v in row] for row in book["records"].iter_rows(values_only=True)]
    assert sheet_rows == list(csv.reader(io.StringIO(expected_csv.text)))
    transactions = list(book["transactions"].iter_rows(values_only=True))
    assert [row[6] for row in transactions[1:]] == [t["amount_minor"] for t in expected["transactions"]] == [900]
    assert [row[2] for row in book["images"].iter_rows(values_only=True)][1:] == [i["name"] for i in expected["images"]]

    exports = [a for a in _audits(central_engine, "plate.export") if a.username == "supervisor"]
    seen = [(a.entity_id, *((a.after or {}).get(k) for k in ("format", "via", "operator_reason"))) for a in exports]
    assert seen == [("粤B11001", "json", "office", REASON), ("粤B11001", "xlsx", "office", REASON)]


@pytest.mark.parametrize(
    ("plate", "reason", "field", "message"),
    [
        ("-·.", REASON, "plate", "Plate: -·. is not a plate once normalised (1 to 16 characters)."),
        ("粤B" + "㍿" * 4, REASON, "plate", "is not a plate once normalised (1 to 16 characters)"),  # wider once NFKC
        ("粤B1234567890123456", REASON, "plate", "At most 16 characters, not 18."),
        ("", REASON, "plate", "This field is required."),
        ("粤B11001", "", "reason", "Say why: the reason goes into the audit log."),
        ("粤B11001", "ok", "reason", "Say why: the reason goes into the audit log."),
    ],
)
def test_a_bad_plate_or_reason_is_refused_beside_its_field_and_nothing_is_audited(
    client: TestClient, central_engine: Engine, plate: str, reason: str, field: str, message: str
) -> None:
    sign_in(client, Role.SUPERVISOR)
    token = csrf_of(client, PAGE)
    for path, extra in ((PAGE, {}), (EXPORT, {"format": "json"})):
        status, html, _body, _type = _post(client, path, {"plate": plate, "reason": reason, **extra}, token)
        assert status == 422
        assert message in error_beside(html, field)
        assert "data-plate=" not in html
    assert _audits(central_engine, "plate.lookup") == _audits(central_engine, "plate.export") == []


def test_the_refusal_is_in_chinese_by_default(client: TestClient) -> None:
    sign_in(client, Role.SUPERVISOR)
    answer = client.post(PAGE, data={"csrf_token": csrf_of(client, PAGE), "plate": "-·.", "reason": REASON})
    assert answer.status_code == 422
    assert "车牌：-·. 规范化后不是有效车牌（应为 1 至 16 个字符）。" in error_beside(answer.text, "plate")


def test_what_a_purge_removed_is_shown_as_purged(pushed: EdgeSite, client: TestClient, central_engine: Engine) -> None:
    with Session(central_engine) as session:  # pictures after 10 days: the young day's (20 days old) go, plates stay
        purge(session, Retention(images_days=10, events_days=365), now=NOW, user=None, images_dir=None)
    sign_in(client, Role.SUPERVISOR)
    _status, html, _body, _type = _post(client, PAGE, {"plate": "粤B11001", "reason": REASON}, csrf_of(client, PAGE))
    assert 'data-purged="images"' in html
    assert "11001-plate.jpg" not in html
    assert "0 pictures named." in html
