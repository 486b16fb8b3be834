"""Every endpoint group admits exactly the roles it declares: each role is tried on each endpoint, the allowed ones
get past authorisation (a result, a validation error or a 404 for a missing record) and the others get 403
``auth.forbidden``. The declared roles are also what the OpenAPI document says (``x-roles``)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from central.core.security import Role
from tests.central.billing_endpoints import BILLING_ENDPOINTS
from tests.central.conftest import Operators

pytestmark = pytest.mark.postgres

ALL = frozenset(Role)
ADMIN = frozenset({Role.ADMIN})
REGISTRY_READERS = frozenset({Role.ADMIN, Role.SUPERVISOR, Role.OFFICE})
HOLDER_WRITERS = frozenset({Role.ADMIN, Role.FRONT_DESK, Role.OFFICE})
FINANCE = frozenset({Role.ADMIN, Role.OFFICE})
CARD_ISSUERS = frozenset({Role.ADMIN, Role.FRONT_DESK})
LIST_KEEPERS = frozenset({Role.ADMIN, Role.SUPERVISOR})
TARIFF_READERS = frozenset({Role.ADMIN, Role.OFFICE, Role.SUPERVISOR})
RECON_READERS = frozenset({Role.ADMIN, Role.SUPERVISOR, Role.AUDITOR})
SUPERVISOR = frozenset({Role.SUPERVISOR})
BAG_READERS = frozenset({Role.ADMIN, Role.CASHIER, Role.SUPERVISOR, Role.AUDITOR})
CASHIER = frozenset({Role.CASHIER})

MISSING = "01000000-0000-7000-8000-000000000000"

PAYMENT_READERS = frozenset({Role.ADMIN, Role.SUPERVISOR, Role.CASHIER, Role.OFFICE, Role.AUDITOR})
REFUNDERS = frozenset({Role.CASHIER, Role.OFFICE})
STATEMENT_IMPORTERS = frozenset({Role.SUPERVISOR, Role.CASHIER})
VENDERS = frozenset({Role.SUPERVISOR, Role.ADMIN})

# (method, path template in the OpenAPI document, concrete path, roles allowed)
ENDPOINTS = [
    ("post", "/api/v1/payments/orders/{order_id}/refund", "/api/v1/payments/orders/PG1/refund", REFUNDERS),
    (
        "post",
        "/api/v1/payments/statements/{provider}/{day}",
        "/api/v1/payments/statements/wechat/2026-12-01",
        STATEMENT_IMPORTERS,
    ),
    (
        "get",
        "/api/v1/payments/statements/{provider}/{day}",
        "/api/v1/payments/statements/wechat/2026-12-01",
        PAYMENT_READERS,
    ),
    ("get", "/api/v1/payments/days/{car_park}/{day}", "/api/v1/payments/days/nope/2026-12-01", PAYMENT_READERS),
    ("post", "/api/v1/remote-vends", "/api/v1/remote-vends", VENDERS),
    ("get", "/api/v1/remote-vends", "/api/v1/remote-vends?car_park=lakeview", RECON_READERS),
    ("get", "/api/v1/auth/me", "/api/v1/auth/me", ALL),
    ("get", "/api/v1/users", "/api/v1/users", ADMIN),
    ("post", "/api/v1/users", "/api/v1/users", ADMIN),
    ("patch", "/api/v1/users/{user_id}", "/api/v1/users/999999", ADMIN),
    ("get", "/api/v1/car-parks", "/api/v1/car-parks", REGISTRY_READERS),
    ("post", "/api/v1/car-parks", "/api/v1/car-parks", ADMIN),
    ("get", "/api/v1/lanes", "/api/v1/lanes", REGISTRY_READERS),
    ("post", "/api/v1/lanes", "/api/v1/lanes", ADMIN),
    ("get", "/api/v1/edges", "/api/v1/edges", REGISTRY_READERS),
    ("post", "/api/v1/edges", "/api/v1/edges", ADMIN),
    ("post", "/api/v1/edges/{edge_id}/token", "/api/v1/edges/nope/token", ADMIN),
    ("post", "/api/v1/edges/{edge_id}/revoke", "/api/v1/edges/nope/revoke", ADMIN),
    ("put", "/api/v1/edges/{edge_id}/certificate", "/api/v1/edges/nope/certificate", ADMIN),
    ("get", "/api/v1/units", "/api/v1/units", ALL),
    ("post", "/api/v1/units", "/api/v1/units", HOLDER_WRITERS),
    ("get", "/api/v1/holders", "/api/v1/holders", ALL),
    ("get", "/api/v1/holders/{holder_id}", "/api/v1/holders/999999", ALL),
    ("post", "/api/v1/holders", "/api/v1/holders", HOLDER_WRITERS),
    ("patch", "/api/v1/holders/{holder_id}", "/api/v1/holders/999999", HOLDER_WRITERS),
    ("get", "/api/v1/plans", "/api/v1/plans", ALL),
    ("post", "/api/v1/plans", "/api/v1/plans", FINANCE),
    ("patch", "/api/v1/plans/{plan_id}", "/api/v1/plans/999999", FINANCE),
    ("get", "/api/v1/passes", "/api/v1/passes", ALL),
    ("get", "/api/v1/passes/{pass_id}", f"/api/v1/passes/{MISSING}", ALL),
    ("get", "/api/v1/passes/{pass_id}/presentations", f"/api/v1/passes/{MISSING}/presentations", ALL),
    ("post", "/api/v1/passes", "/api/v1/passes", HOLDER_WRITERS),
    ("post", "/api/v1/passes/{pass_id}/renew", f"/api/v1/passes/{MISSING}/renew", HOLDER_WRITERS),
    ("post", "/api/v1/passes/{pass_id}/suspend", f"/api/v1/passes/{MISSING}/suspend", HOLDER_WRITERS),
    ("post", "/api/v1/passes/{pass_id}/resume", f"/api/v1/passes/{MISSING}/resume", HOLDER_WRITERS),
    ("post", "/api/v1/passes/{pass_id}/cancel", f"/api/v1/passes/{MISSING}/cancel", HOLDER_WRITERS),
    ("post", "/api/v1/passes/{pass_id}/transfer", f"/api/v1/passes/{MISSING}/transfer", HOLDER_WRITERS),
    ("get", "/api/v1/passes/reminders", "/api/v1/passes/reminders", ALL),
    ("get", "/api/v1/passes/reminders.csv", "/api/v1/passes/reminders.csv", ALL),
    ("get", "/api/v1/invoice-lines", "/api/v1/invoice-lines", FINANCE),
    ("get", "/api/v1/access-groups", "/api/v1/access-groups", ALL),
    ("post", "/api/v1/access-groups", "/api/v1/access-groups", ADMIN),
    ("put", "/api/v1/access-groups/{group_id}", "/api/v1/access-groups/999999", ADMIN),
    ("get", "/api/v1/cards", "/api/v1/cards", ALL),
    ("get", "/api/v1/cards/{card_id}/refusals", f"/api/v1/cards/{MISSING}/refusals", ALL),
    ("post", "/api/v1/cards", "/api/v1/cards", CARD_ISSUERS),
    ("post", "/api/v1/cards/{card_id}/lost", f"/api/v1/cards/{MISSING}/lost", CARD_ISSUERS),
    ("post", "/api/v1/cards/{card_id}/revoke", f"/api/v1/cards/{MISSING}/revoke", CARD_ISSUERS),
    ("post", "/api/v1/cards/{card_id}/replace", f"/api/v1/cards/{MISSING}/replace", CARD_ISSUERS),
    ("get", "/api/v1/vehicles", "/api/v1/vehicles", ALL),
    ("post", "/api/v1/vehicles", "/api/v1/vehicles", LIST_KEEPERS),
    ("put", "/api/v1/vehicles/{entry_id}", f"/api/v1/vehicles/{MISSING}", LIST_KEEPERS),
    ("delete", "/api/v1/vehicles/{entry_id}", f"/api/v1/vehicles/{MISSING}", LIST_KEEPERS),
    ("get", "/api/v1/tariffs", "/api/v1/tariffs", TARIFF_READERS),
    ("put", "/api/v1/tariffs/{tariff_id}", "/api/v1/tariffs/standard", FINANCE),
    ("delete", "/api/v1/tariffs/{tariff_id}", "/api/v1/tariffs/nope", FINANCE),
    ("get", "/api/v1/records", "/api/v1/records", REGISTRY_READERS),
    ("get", "/api/v1/fault-reports", "/api/v1/fault-reports", REGISTRY_READERS),
    ("get", "/api/v1/chain-breaks", "/api/v1/chain-breaks", REGISTRY_READERS),
    ("get", "/api/v1/transactions", "/api/v1/transactions", REGISTRY_READERS),
    ("get", "/api/v1/transactions/totals", "/api/v1/transactions/totals", REGISTRY_READERS),
    ("get", "/api/v1/shift-reports", "/api/v1/shift-reports", REGISTRY_READERS),
    ("get", "/api/v1/quarantine", "/api/v1/quarantine", frozenset({Role.ADMIN, Role.SUPERVISOR})),
    ("get", "/api/v1/audit", "/api/v1/audit", LIST_KEEPERS),
    (
        "get",
        "/api/v1/plates/{plate}/records",
        "/api/v1/plates/粤B3R7K2/records?reason=data-subject%20request",
        LIST_KEEPERS,
    ),
    (
        "get",
        "/api/v1/reconciliation/days/{car_park}/{day}",
        "/api/v1/reconciliation/days/nope/2026-11-27",
        RECON_READERS,
    ),
    (
        "get",
        "/api/v1/reconciliation/shifts",
        "/api/v1/reconciliation/shifts?car_park=nope&day=2026-11-27",
        RECON_READERS,
    ),
    ("get", "/api/v1/reconciliation/shifts/{shift_id}", f"/api/v1/reconciliation/shifts/{MISSING}", RECON_READERS),
    (
        "post",
        "/api/v1/reconciliation/shifts/{shift_id}/sign-off",
        f"/api/v1/reconciliation/shifts/{MISSING}/sign-off",
        SUPERVISOR,
    ),
    (
        "post",
        "/api/v1/reconciliation/shifts/{shift_id}/flag",
        f"/api/v1/reconciliation/shifts/{MISSING}/flag",
        SUPERVISOR,
    ),
    ("get", "/api/v1/bags", "/api/v1/bags?car_park=lakeview", BAG_READERS),
    ("post", "/api/v1/bags/{car_park}/{bag}/pick-up", "/api/v1/bags/lakeview/TB-1/pick-up", CASHIER),
    ("post", "/api/v1/bags/{car_park}/{bag}/count", "/api/v1/bags/lakeview/TB-1/count", CASHIER),
    ("post", "/api/v1/bags/{car_park}/{bag}/deposit", "/api/v1/bags/lakeview/TB-1/deposit", CASHIER),
]
ENDPOINTS += BILLING_ENDPOINTS


def test_every_role_is_admitted_or_refused_as_declared(client: TestClient, as_role: Operators) -> None:
    unexpected = []
    for method, _template, path, allowed in ENDPOINTS:
        for role in Role:
            answer = client.request(method, path, headers=as_role[role], json={} if method != "get" else None)
            if role in allowed:
                if answer.status_code in (401, 403) or answer.status_code >= 500:
                    unexpected.append((method, path, role.value, answer.status_code, answer.text[:100]))
            elif (answer.status_code, answer.json().get("code")) != (403, "auth.forbidden"):
                unexpected.append((method, path, role.value, answer.status_code, answer.text[:100]))
    assert unexpected == []


def test_allowed_reads_succeed_for_every_allowed_role(client: TestClient, as_role: Operators) -> None:
    for method, template, path, allowed in ENDPOINTS:
        if method != "get" or "{" in template:
            continue
        for role in allowed:
            answer = client.get(path, headers=as_role[role])
            assert answer.status_code == 200, (path, role, answer.text)


def test_the_openapi_document_declares_the_same_roles(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for method, template, _path, allowed in ENDPOINTS:
        assert set(paths[template][method]["x-roles"]) == {r.value for r in allowed}, (method, template)
    assert paths["/api/v1/sync"]["get"]["x-roles"] == ["edge"]
    assert paths["/api/v1/ingest"]["post"]["x-roles"] == ["edge"]
    assert paths["/api/v1/edges/images/{name}"]["post"]["x-roles"] == ["edge"]
    declared = {(m, p) for p, ops in paths.items() for m in ops if p.startswith("/api/v1/")}
    covered = {(m, t) for m, t, _p, _a in ENDPOINTS} | {
        ("get", "/api/v1/sync"), ("post", "/api/v1/ingest"), ("post", "/api/v1/auth/login"),
        ("post", "/api/v1/auth/logout"), ("post", "/api/v1/edges/images/{name}"),
        # edges (their token), drivers (no sign-in) and providers (their signature): see test_payments
        ("post", "/api/v1/edges/exit-quotes"), ("get", "/api/v1/edges/payments"),
        ("post", "/api/v1/edges/payments/ack"),
        ("get", "/api/v1/edges/remote-vends"), ("post", "/api/v1/edges/remote-vends/done"),
        ("post", "/api/v1/payments/notify/{provider}"), ("post", "/api/v1/pay/orders"),
        ("get", "/api/v1/pay/orders/{order_id}"),
    }  # fmt: skip
    assert declared == covered


def test_without_a_token_every_staff_endpoint_answers_401(client: TestClient) -> None:
    for method, _template, path, _allowed in ENDPOINTS:
        answer = client.request(method, path, json={} if method != "get" else None)
        assert (answer.status_code, answer.json()["code"]) == (401, "auth.missing_token"), path
