"""Building blocks of the billing tests: a car park, a holder with a unit, a plan with a billing rule, a pass sold."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient

from central.core.security import Role
from tests.central.conftest import Operators
from tests.central.scenario import Site, make_holder, make_plan, make_site, ok


@dataclass
class Sale:
    site: Site
    holder: int
    plan: int
    monthly: dict[str, Any]
    invoice: dict[str, Any]


def sell_pass(
    client: TestClient,
    as_role: Operators,
    *,
    rule: dict[str, Any] | None = None,
    price: int = 30000,
    name: str = "王小明",
    plate: str = "粤B3R7K2",
    car_park: str = "lakeview",
    email: str = "",
) -> Sale:
    """A pass sold at the front desk on a plan of ``car_park`` with ``rule`` (active on payment by default)."""
    site = make_site(client, as_role.admin, car_park, edge=f"{car_park}-{uuid.uuid4().hex[:8]}")
    holder = make_holder(client, as_role[Role.FRONT_DESK], name)
    if email:
        ok(client.patch(f"/api/v1/holders/{holder}", headers=as_role[Role.FRONT_DESK], json={"email": email}))
    plan = make_plan(client, as_role[Role.OFFICE], [car_park], price=price)
    ok(
        client.put(
            f"/api/v1/billing/plans/{plan}/rule", headers=as_role[Role.OFFICE], json=rule or {"activate_on": "payment"}
        )
    )
    monthly = ok(
        client.post(
            "/api/v1/passes",
            headers=as_role[Role.FRONT_DESK],
            json={"holder_id": holder, "plan_id": plan, "plates": [plate], "months": 1},
        ),
        201,
    )
    invoices = ok(client.get(f"/api/v1/billing/invoices?pass_id={monthly['id']}", headers=as_role[Role.CASHIER]))
    assert len(invoices) == 1
    return Sale(site, holder, plan, monthly, invoices[0])


def open_drawer(client: TestClient, as_role: Operators, float_minor: int = 20000) -> None:
    lines = [
        {"denomination": 10000, "count": float_minor // 10000},
        {"denomination": 100, "count": float_minor % 10000 // 100},
    ]
    ok(
        client.post(
            "/api/v1/billing/drawer/open",
            headers=as_role[Role.CASHIER],
            json={"count": {"currency": "CNY", "lines": lines}},
        ),
        201,
    )
