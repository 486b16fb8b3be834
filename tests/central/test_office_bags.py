"""The cashier's cash-bag custody pages (TestClient, central on PostgreSQL, a bag the real edge code dropped): the
bags by state, the pick-up with its witness, the count by denomination against the declared amount, the deposit
with the bank deposit slip's reference, each refusal beside its field; the supervisor reads the bag's history."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from central.core.security import Role
from tests.central.conftest import Operators
from tests.central.edge_site import EdgeSite
from tests.central.office import error_beside, post, sign_in
from tests.central.scenario import make_site
from tests.central.test_reconciliation import plain_shift

pytestmark = pytest.mark.postgres
BAG = "/office/bags/lakeview/TB-0001"


def test_the_cashier_picks_up_counts_and_deposits_a_bag(tmp_path: Path, client: TestClient, as_role: Operators) -> None:
    edge = EdgeSite(tmp_path, make_site(client, as_role.admin))
    plain_shift(edge, bag="TB-0001")  # 200.00 declared
    edge.push(client)
    sign_in(client, Role.CASHIER)
    client.cookies.set("parkgate_office_lang", "en", path="/office")
    listed = client.get("/office/bags").text
    dropped = listed[listed.index('data-state="dropped"') : listed.index('data-state="picked_up"')]
    assert 'data-bag="TB-0001"' in dropped
    assert "200.00" in dropped

    status, page = post(client, f"{BAG}/pick-up", {"witness": "cashier"}, page=BAG)
    assert status == 422
    assert error_beside(page, "witness") == "The witness cannot be the cashier who picks the bag up."
    status, page = post(client, f"{BAG}/pick-up", {"witness": "supervisor", "at": "2099-01-01T10:00"}, page=BAG)
    assert error_beside(page, "at") == "This time is in the future."
    assert post(client, f"{BAG}/pick-up", {"witness": "supervisor"}, page=BAG) == (303, f"{BAG}?done=picked_up")

    # 1 × 100 + 1 × 50 + 2 × 20 + 5 × 1 yuan = 195.00: five short of the declared, so a reason is asked for.
    count = {"d10000": "1", "d5000": "1", "d2000": "2", "d100": "5"}
    status, page = post(client, f"{BAG}/count", count, page=BAG)
    assert status == 422
    assert error_beside(page, "reason").startswith("The count differs from the declared amount")
    status, page = post(client, f"{BAG}/count", {"d10000": "x"}, page=BAG)
    assert error_beside(page, "d10000") == "Enter a whole number."
    assert post(client, f"{BAG}/count", {**count, "reason": "one 5-yuan note missing"}, page=BAG)[0] == 303

    status, page = post(client, f"{BAG}/deposit", {"slip": ""}, page=BAG)
    assert error_beside(page, "slip") == "This field is required."
    assert post(client, f"{BAG}/deposit", {"slip": "ICBC-20261127-0042"}, page=BAG) == (303, f"{BAG}?done=deposited")
    deposited = client.get("/office/bags", params={"state": "deposited"}).text
    assert 'data-bag="TB-0001"' in deposited
    assert "ICBC-20261127-0042" in deposited

    client.cookies.clear()
    sign_in(client, Role.SUPERVISOR)
    client.cookies.set("parkgate_office_lang", "en", path="/office")
    history = client.get(BAG).text
    assert [a for a in ("bag.pick_up", "bag.count", "bag.deposit") if f'data-action="{a}"' in history] == [
        "bag.pick_up", "bag.count", "bag.deposit"]  # fmt: skip
    assert "100.00 × 1" in history
    assert "one 5-yuan note missing" in history
    assert "witnessed by supervisor" in history
    assert "differs from the declared by -5.00 CNY" in history
    assert "/pick-up" not in history  # the supervisor reads; only the cashier records the steps
    assert post(client, f"{BAG}/deposit", {"slip": "X"}, page=BAG)[0] == 403


def test_only_the_cashier_and_the_supervision_see_the_bags(client: TestClient) -> None:
    for role, status in ((Role.FRONT_DESK, 403), (Role.COLLECTOR, 403), (Role.OFFICE, 403), (Role.AUDITOR, 200)):
        client.cookies.clear()
        sign_in(client, role)
        assert client.get("/office/bags").status_code == status, role
        landing = client.get("/office/home").text
        assert ('href="/office/bags"' in landing) is (status == 200), role
