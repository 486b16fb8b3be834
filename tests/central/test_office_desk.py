"""The front desk's work through the office console's routes (TestClient, central on PostgreSQL): units and
holders, finding a holder, selling and renewing a pass with a card, the card lost and replaced, refused input
shown beside its field, every change audited with its reason and published to the edges."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from central.core.security import Role
from central.models import AccessCard, AuditEntry, Holder, MonthlyPass, SyncItem, Unit, VehicleListEntry
from central.renewal import OPERATOR_ZONE
from tests.central.conftest import Operators
from tests.central.office import csrf_of, error_beside, post, sign_in
from tests.central.scenario import make_plan

pytestmark = pytest.mark.postgres
EN = {"Accept-Language": "en"}


def _holder(client: TestClient, engine: Engine) -> int:
    assert post(client, "/office/units", {"building": "3", "room": "1201"}) == (303, "/office/units?done=unit_added")
    with Session(engine) as session:
        unit = session.scalars(select(Unit)).one()
    status, where = post(client, "/office/holders/new", {"name": "王小明", "phone": "13800000000",
                                                          "unit_id": str(unit.id)})  # fmt: skip
    assert status == 303
    return int(urlsplit(where).path.rsplit("/", 1)[1])


def test_register_find_sell_lose_replace_renew(client: TestClient, central_engine: Engine, as_role: Operators) -> None:
    plan = make_plan(client, as_role.admin, price=30000)
    sign_in(client, Role.FRONT_DESK)
    client.cookies.set("parkgate_office_lang", "en", path="/office")

    # Refused input is shown beside its field, the values typed are kept.
    token = csrf_of(client, "/office/holders/new")
    refused = client.post("/office/holders/new", data={"csrf_token": token, "name": "", "email": "nope",
                                                        "phone": "1" * 40})  # fmt: skip
    assert refused.status_code == 422
    assert error_beside(refused.text, "name") == "This field is required."
    assert error_beside(refused.text, "email") == "Enter an e-mail address like name@example.com."
    assert error_beside(refused.text, "phone") == "At most 32 characters, not 40."
    assert 'value="nope"' in refused.text

    holder_id = _holder(client, central_engine)
    assert "The holder is registered." in client.get(f"/office/holders/{holder_id}?done=holder_registered").text

    # The sale refuses a missing reason and too many plates, beside their fields.
    holder_page = f"/office/holders/{holder_id}"
    status, html = post(client, f"{holder_page}/passes", {"plan_id": str(plan), "plates": "A1 A2 A3 A4 A5 A6",
                                                          "months": "0", "reason": ""}, page=holder_page)  # fmt: skip
    assert status == 422
    assert error_beside(html, "sale-plates") == "At most five plates."
    assert error_beside(html, "sale-months") == "Enter a number from 1 to 120."
    assert error_beside(html, "sale-reason") == "Say why: the reason goes into the audit log."

    sale = {"plan_id": str(plan), "plates": "粤B·3R7K2", "card_number": "0012345678", "months": "3",
            "reason": "new resident"}  # fmt: skip
    assert post(client, f"{holder_page}/passes", sale, page=holder_page) == (303, f"{holder_page}?done=pass_sold")
    with Session(central_engine) as session:
        monthly = session.scalars(select(MonthlyPass)).one()
        card = session.scalars(select(AccessCard)).one()
        assert (monthly.plates, monthly.card_number, card.number, card.status) == (
            ["粤B3R7K2"],
            "0012345678",
            "0012345678",
            "active",
        )
        assert {item.kind for item in session.scalars(select(SyncItem))} == {"passes", "cards"}

    # Found by name, unit, plate (typed with separators) and card number.
    for query in ("小明", "3-1201", "1201", "粤b 3r7k2", "0012345678"):
        found = client.get("/office/desk", params={"q": query})
        assert f'href="/office/holders/{holder_id}"' in found.text, query
    assert "Nobody matches" in client.get("/office/desk", params={"q": "nobody"}).text

    # The same number cannot be issued again while the card is active.
    status, html = post(client, f"{holder_page}/cards", {"number": "0012345678", "reason": "spare"}, page=holder_page)
    assert status == 422
    assert error_beside(html, "card-number") == "An active card already has this number."

    # Lost: without a reason the dialog comes back open with the error.
    status, html = post(client, f"/office/cards/{card.id}/lost", {"reason": ""}, page=holder_page)
    assert status == 422
    assert f'id="lost-{card.id}" aria-labelledby="lost-{card.id}-title" data-open' in html
    assert error_beside(html, f"lost-{card.id}-reason") == "Say why: the reason goes into the audit log."
    assert post(client, f"/office/cards/{card.id}/lost", {"reason": "lost in the lift"}, page=holder_page) == (
        303, f"{holder_page}?done=card_lost")  # fmt: skip
    with Session(central_engine) as session:  # the lost card no longer opens the pass at the edges
        assert renewed_card(session, monthly.id) is None
        assert '"card":null' in session.get_one(SyncItem, ("passes", monthly.id)).body.replace(" ", "")

    # The lost card is replaced (typed with the reader's spaces); the pass follows the new card.
    assert post(client, f"/office/cards/{card.id}/replace", {"number": " 0012 999 ", "deposit": "50.00",
                                                             "reason": "after loss"},
                page=holder_page) == (303, f"{holder_page}?done=card_replaced")  # fmt: skip
    status, html = post(client, f"/office/cards/{card.id}/replace", {"number": "0099", "reason": "again"},
                        page=holder_page)  # fmt: skip
    assert status == 422
    assert "The card is no longer active." in html
    with Session(central_engine) as session:
        fresh = session.scalars(select(AccessCard).where(AccessCard.number == "0012999")).one()
        assert (fresh.deposit_minor, fresh.status) == (5000, "active")
        assert session.get_one(MonthlyPass, monthly.id).card_number == "0012999"
    # A worn-out card is replaced while active: it becomes "replaced".
    assert post(client, f"/office/cards/{fresh.id}/replace", {"number": "0013000", "reason": "worn out"},
                page=holder_page) == (303, f"{holder_page}?done=card_replaced")  # fmt: skip
    # A revoked card cannot be replaced.
    assert (
        post(client, f"{holder_page}/cards", {"number": "0555", "reason": "car-pool card"}, page=holder_page)[0] == 303
    )
    with Session(central_engine) as session:
        spare = session.scalars(select(AccessCard).where(AccessCard.number == "0555")).one()
    assert post(client, f"/office/cards/{spare.id}/revoke", {"reason": "car pool ended"}, page=holder_page)[0] == 303
    status, html = post(client, f"/office/cards/{spare.id}/replace", {"number": "0556", "reason": "x"},
                        page=holder_page)  # fmt: skip
    assert status == 422
    assert "The card is no longer active." in html

    status, html = post(client, f"/office/passes/{monthly.id}/renew", {"months": "x", "reason": "paid"},
                        page=holder_page)  # fmt: skip
    assert status == 422
    assert error_beside(html, f"renew-{monthly.id}-months") == "Enter a whole number."
    assert post(client, f"/office/passes/{monthly.id}/renew", {"months": "1", "reason": "paid at the desk"},
                page=holder_page) == (303, f"{holder_page}?done=pass_renewed")  # fmt: skip

    with Session(central_engine) as session:
        cards = {c.number: c for c in session.scalars(select(AccessCard))}
        assert {n: c.status for n, c in cards.items()} == {"0012345678": "lost", "0012999": "replaced",
                                                           "0013000": "active", "0555": "revoked"}  # fmt: skip
        assert cards["0012345678"].replaced_by == cards["0012999"].id
        assert cards["0012999"].replaced_by == cards["0013000"].id
        assert renewed_card(session, monthly.id) == "0013000"
        assert cards["0013000"].deposit_minor == 5000
        renewed = session.get_one(MonthlyPass, monthly.id)
        assert renewed.valid_to > monthly.valid_to
        audit = [(e.action, e.username, (e.after or {}).get("operator_reason"))
                 for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))
                 if not e.action.startswith("office.")]  # fmt: skip
    assert audit == [
        ("plan.create", "admin", None), ("unit.create", "front_desk", None), ("holder.create", "front_desk", None),
        ("invoice.issue", "front_desk", None),  # the sale's invoice (billing)
        ("pass.create", "front_desk", "new resident"), ("card.issue", "front_desk", "new resident"),
        ("card.lost", "front_desk", "lost in the lift"), ("pass.card", "front_desk", "lost in the lift"),
        ("card.issue", "front_desk", "after loss"),
        ("pass.card", "front_desk", "after loss"), ("card.replaced", "front_desk", "worn out"),
        ("card.issue", "front_desk", "worn out"), ("pass.card", "front_desk", "worn out"),
        ("card.issue", "front_desk", "car-pool card"), ("card.revoked", "front_desk", "car pool ended"),
        ("invoice.issue", "front_desk", None), ("pass.renew", "front_desk", "paid at the desk"),
    ]  # fmt: skip

    page = client.get(holder_page)
    assert "粤B3R7K2" in page.text
    assert "300.00 CNY" in page.text
    assert "50.00 CNY" in page.text


def renewed_card(session: Session, pass_id: str) -> str | None:
    return session.get_one(MonthlyPass, pass_id).card_number


def test_replacing_the_card_of_a_pass_moves_the_pass_to_the_new_card(
    client: TestClient, central_engine: Engine, as_role: Operators
) -> None:
    plan = make_plan(client, as_role.admin)
    sign_in(client, Role.FRONT_DESK)
    holder_id = _holder(client, central_engine)
    page = f"/office/holders/{holder_id}"
    post(client, f"{page}/passes", {"plan_id": str(plan), "plates": "粤B12345", "card_number": "777", "months": "1",
                                    "reason": "sale"}, page=page)  # fmt: skip
    with Session(central_engine) as session:
        card = session.scalars(select(AccessCard)).one()
    assert post(client, f"/office/cards/{card.id}/replace", {"number": "778", "reason": "broken"}, page=page)[0] == 303
    with Session(central_engine) as session:
        assert session.scalars(select(MonthlyPass.card_number)).one() == "778"


def test_vehicle_lists_with_category_and_validity(client: TestClient, central_engine: Engine) -> None:
    sign_in(client, Role.FRONT_DESK)
    client.cookies.set("parkgate_office_lang", "en", path="/office")
    status, html = post(client, "/office/vehicles", {"list_kind": "free", "plate": "粤B11000", "category": "vip",
                                                      "valid_from": "2026-13-01", "reason": ""})  # fmt: skip
    assert status == 422
    assert error_beside(html, "category").startswith("A free vehicle's category is one of: ambulance, fire")
    assert error_beside(html, "valid_from") == "Enter a date as YYYY-MM-DD."
    assert error_beside(html, "reason") == "Say why: the reason goes into the audit log."
    free = {"list_kind": "free", "plate": "粤B11000警", "category": "police", "reason": "patrol car",
            "valid_from": "2026-01-01", "valid_to": "2026-12-31"}  # fmt: skip
    assert post(client, "/office/vehicles", free) == (303, "/office/vehicles?kind=free&done=vehicle_added")
    black = {"list_kind": "blacklist", "plate": "粤A88888", "category": "fare-dodger", "reason": "three unpaid exits"}
    assert post(client, "/office/vehicles", black)[0] == 303
    listed = client.get("/office/vehicles", params={"kind": "blacklist"})
    assert "粤A88888" in listed.text
    assert "粤B11000警" not in listed.text
    with Session(central_engine) as session:
        entry = session.scalars(select(VehicleListEntry).where(VehicleListEntry.list_kind == "free")).one()
        # The end day is valid through its whole local day: 2027-01-01 00:00 in Shanghai is 2026-12-31 16:00 UTC.
        assert entry.valid_to is not None
        assert entry.valid_to.isoformat() == "2026-12-31T16:00:00+00:00"
        assert entry.valid_from.isoformat() == "2025-12-31T16:00:00+00:00"
    status, _ = post(client, f"/office/vehicles/{entry.id}/remove", {"reason": ""}, page="/office/vehicles")
    assert status == 422
    assert post(client, f"/office/vehicles/{entry.id}/remove", {"reason": "car sold"}, page="/office/vehicles") == (
        303, "/office/vehicles?done=vehicle_removed")  # fmt: skip
    with Session(central_engine) as session:
        assert session.get(VehicleListEntry, entry.id) is None
        removal = session.scalars(select(AuditEntry).where(AuditEntry.action == "vehicle.remove")).one()
        assert removal.after == {"operator_reason": "car sold"}
        assert session.get_one(SyncItem, ("vehicles", entry.id)).deleted


def test_reminders_with_csv_and_renewals_due_today(
    client: TestClient, central_engine: Engine, as_role: Operators
) -> None:
    plan = make_plan(client, as_role.admin)
    holder = client.post("/api/v1/holders", headers=as_role.admin, json={"name": "李四", "phone": "=1+2"}).json()["id"]
    today = datetime.combine(datetime.now(OPERATOR_ZONE).date(), time(), OPERATOR_ZONE)
    ends = {"粤B11111": today + timedelta(hours=1), "粤B22222": datetime.now(UTC) + timedelta(days=2),
            "粤B33333": today - timedelta(days=2), "粤B44444": today + timedelta(days=40)}  # fmt: skip
    with Session(central_engine) as session:
        for plate, end in ends.items():
            sold = client.post("/api/v1/passes", headers=as_role.admin,
                               json={"holder_id": holder, "plan_id": plan, "plates": [plate]}).json()  # fmt: skip
            session.get_one(MonthlyPass, sold["id"]).valid_to = end
        session.commit()
    sign_in(client, Role.FRONT_DESK)
    reminders = client.get("/office/reminders", params={"days": 3}).text
    assert "粤B22222" in reminders
    assert "粤B44444" not in reminders
    assert "粤B33333" not in reminders
    export = client.get("/office/reminders.csv", params={"days": 3})
    assert export.headers["content-type"].startswith("text/csv")
    assert export.text.startswith("\ufeffpass,plates")
    assert "'=1+2" in export.text
    assert "粤B22222" in export.text
    due, lapsed = client.get("/office/renewals/today").text.split("<main>")[1].split("<h2>")[1:3]
    assert "粤B11111" in due
    assert "粤B33333" not in due
    assert "粤B22222" not in due
    assert "粤B33333" in lapsed
    assert "粤B11111" not in lapsed


def test_changing_a_holder_republishes_their_passes(
    client: TestClient, central_engine: Engine, as_role: Operators
) -> None:
    plan = make_plan(client, as_role.admin)
    sign_in(client, Role.FRONT_DESK)
    holder_id = _holder(client, central_engine)
    page = f"/office/holders/{holder_id}"
    post(client, f"{page}/passes", {"plan_id": str(plan), "plates": "粤B12345", "months": "1", "reason": "sale"},
         page=page)  # fmt: skip
    edit = client.get(f"{page}/edit")
    assert 'value="王小明"' in edit.text
    status, html = post(client, f"{page}/edit", {"name": " ", "unit_id": "99"}, page=f"{page}/edit")
    assert status == 422
    assert error_beside(html, "name") == "此项必填。"
    assert error_beside(html, "unit_id") == "没有此房号。"
    assert post(client, f"{page}/edit", {"name": "王晓明", "phone": "13900000000"}, page=f"{page}/edit") == (
        303, f"{page}?done=holder_changed")  # fmt: skip
    with Session(central_engine) as session:
        holder = session.get_one(Holder, holder_id)
        assert (holder.name, holder.phone, holder.unit_id) == ("王晓明", "13900000000", None)
        body = session.scalars(select(SyncItem.body).where(SyncItem.kind == "passes")).one()
        assert "王晓明" in body
        change = session.scalars(select(AuditEntry).where(AuditEntry.action == "holder.change")).one()
        assert change.before is not None
        assert change.before["name"] == "王小明"
