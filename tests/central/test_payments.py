"""Payments at central through the real SDKs against the provider simulator (both over real HTTP, PostgreSQL): an
order for the vehicle at an unattended exit, paid by scanning, settled to the edge once; a notification sent twice
counted once; forged, tampered and replayed notifications refused; refunds; the daily statements matched with a
deliberate mismatch listed; the provider unreachable and back without a second charge."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from central.core.config import Settings
from central.core.security import Role
from central.core.windows import RequestRate
from central.models import PaymentNotification, PaymentSettlement
from central.payments.alipay import AlipayProvider
from central.payments.wechat import WeChatPayProvider
from tests.central.payment_rig import PaymentRig, payment_rig

pytestmark = pytest.mark.postgres


@pytest.fixture
def rig(central_engine: Engine, postgres_sqlalchemy_url: str, role_tokens: dict[Role, str],
        tmp_path: Path) -> Iterator[PaymentRig]:  # fmt: skip
    with payment_rig(central_engine, postgres_sqlalchemy_url, role_tokens, tmp_path / "keys") as built:
        yield built


def outcomes(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return list(session.scalars(select(PaymentNotification.outcome).order_by(PaymentNotification.id)))


@pytest.mark.parametrize("provider", ["wechat", "alipay"])
def test_a_visitor_pays_by_scanning_and_the_edge_gets_the_settlement_once(
    rig: PaymentRig, central_engine: Engine, provider: str
) -> None:
    quote = rig.quote("out-1", "S-1", 1500)
    assert quote["pay_url"].endswith("/pay/lane/lakeview/out-1")
    order = rig.order(provider)
    assert order["state"] == "created"
    assert order["amount"] == 1500
    code = order["qr_code"]
    assert code.startswith("weixin://wxpay/bizpayurl" if provider == "wechat" else "https://qr.alipay.com/")
    assert rig.order(provider)["id"] == order["id"]  # the same request: the same order, placed once
    assert rig.settlements() == []

    status = rig.provider.pay(rig.provider.order_by_code(code).out_trade_no)
    assert status == 200
    assert rig.call("GET", f"/api/v1/pay/orders/{order['id']}").json()["state"] == "paid"
    [settled] = rig.settlements()
    assert settled | {"paid_at": None, "quoted_at": None} == {
        "settlement": settled["settlement"], "order_id": order["id"], "provider": provider,
        "reference": rig.provider.orders[order["id"]].trade_no, "session": "S-1", "lane": "out-1",
        "plate": "粤B3R7K2", "amount": 1500, "currency": "CNY", "tariff_hash": "ab" * 32,
        "lines": [{"label": "first hour", "amount": 500}, {"label": "next hours", "amount": 1000}], "paid_at": None,
        "quoted_at": None,
    }  # fmt: skip
    assert rig.settlements(since=settled["settlement"]) == [settled]  # not yet acknowledged: offered again
    answer = rig.call("POST", "/api/v1/edges/payments/ack", headers=rig.edge,
                      json={"acks": [{"settlement": settled["settlement"], "record": "R-1"}]})  # fmt: skip
    assert answer.json() == {"acknowledged": 1}
    assert rig.settlements(since=settled["settlement"]) == []
    assert outcomes(central_engine) == ["applied"]


@pytest.mark.parametrize("provider", ["wechat", "alipay"])
def test_a_notification_arriving_twice_is_counted_once(rig: PaymentRig, central_engine: Engine, provider: str) -> None:
    rig.quote("out-1", "S-2", 800)
    order = rig.order(provider)
    assert rig.provider.pay(order["id"]) == 200
    assert rig.provider.notify(order["id"], resend=True) == 200  # the very same bytes
    assert rig.provider.notify(order["id"]) == 200  # the provider's retry, signed anew
    assert len(rig.settlements()) == 1
    assert outcomes(central_engine) == ["applied", "duplicate", "duplicate"]
    metrics = rig.call("GET", "/metrics").text
    assert f'parkgate_central_payment_notifications_total{{outcome="duplicate",provider="{provider}"}} 2.0' in metrics


@pytest.mark.parametrize("provider", ["wechat", "alipay"])
def test_forged_tampered_and_replayed_notifications_are_refused(
    rig: PaymentRig, central_engine: Engine, provider: str
) -> None:
    rig.quote("out-1", "S-3", 1200)
    order = rig.order(provider)
    simulated = rig.provider.orders[order["id"]]
    simulated.state, simulated.paid_at = "SUCCESS", datetime.now(UTC)
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert rig.provider.notify(order["id"], key=forger) == 401
    _headers, genuine = rig.provider.wechat_notification(simulated, datetime.now(UTC), None) if provider == "wechat" \
        else rig.provider.alipay_notification(simulated, datetime.now(UTC), None)  # fmt: skip
    tampered = genuine.replace(b"12.00", b"0.01") if provider == "alipay" else genuine.replace(b"EV-", b"EW-")
    assert rig.provider.notify(order["id"], body=tampered) == 401
    assert rig.provider.notify(order["id"], at=datetime.now(UTC) - timedelta(minutes=10)) == 400  # a replay
    assert rig.settlements() == []
    assert rig.call("GET", f"/api/v1/pay/orders/{order['id']}").json()["state"] == "created"
    assert outcomes(central_engine) == ["refused.signature", "refused.signature", "refused.stale"]
    metrics = rig.call("GET", "/metrics").text
    assert f'parkgate_central_payment_notifications_total{{outcome="refused.signature",provider="{provider}"}} 2.0' \
        in metrics  # fmt: skip
    assert rig.provider.pay(order["id"]) == 200  # the genuine one still counts
    assert len(rig.settlements()) == 1


def test_a_notification_for_another_amount_is_refused(rig: PaymentRig, central_engine: Engine) -> None:
    rig.quote("out-1", "S-4", 1000)
    order = rig.order("wechat")
    rig.provider.orders[order["id"]].amount = 1  # the provider says 0.01 was paid
    assert rig.provider.pay(order["id"]) == 400
    assert rig.settlements() == []
    assert outcomes(central_engine) == ["refused.amount_differs"]


@pytest.mark.parametrize("provider", ["wechat", "alipay"])
def test_statement_matched_with_one_deliberate_mismatch_and_a_refund(rig: PaymentRig, provider: str) -> None:
    paid = []
    for number, total in enumerate((700, 900, 1100), start=1):
        rig.quote(f"out-{number}", f"S-1{number}", total)
        order = rig.order(provider, lane=f"out-{number}")
        assert rig.provider.pay(order["id"]) == 200
        paid.append(order["id"])
    cashier = rig.staff[Role.CASHIER]
    answer = rig.call("POST", f"/api/v1/payments/orders/{paid[2]}/refund", headers=cashier,
                      json={"amount": 300, "reason": "charged for a stay the driver did not have"})  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert answer.json()["state"] == "refunded"
    rig.provider.statement_changes[paid[1]] = 990  # the provider's statement says 9.90 for a 9.00 order
    day = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    answer = rig.call("POST", f"/api/v1/payments/statements/{provider}/{day}", headers=rig.staff[Role.SUPERVISOR])
    assert answer.status_code == 200, answer.text
    statement = answer.json()
    assert [(line["kind"], line["order_id"], line["difference"]) for line in statement["lines"]] == [
        ("payment", paid[0], None), ("payment", paid[1], "amount.differs"), ("payment", paid[2], None),
        ("refund", paid[2], None),
    ]  # fmt: skip
    [difference] = statement["differences"]
    assert difference["detail"] == "central 900, provider 990"
    assert difference["reason"] == "the provider's amount is not the order's"
    kept = rig.call("GET", f"/api/v1/payments/statements/{provider}/{day}", headers=rig.staff[Role.AUDITOR]).json()
    assert kept == statement
    figures = rig.call("GET", f"/api/v1/payments/days/lakeview/{day}", headers=rig.staff[Role.SUPERVISOR]).json()
    assert figures["by_provider"] == {provider: {"count": 3, "amount": 2700, "refunded": 300, "net": 2400}}
    day_figures = rig.call("GET", f"/api/v1/reconciliation/days/lakeview/{day}", headers=rig.staff[Role.SUPERVISOR])
    assert day_figures.status_code == 200, day_figures.text
    assert day_figures.json()["e_payments"] == {"by_provider": figures["by_provider"], "net": 2400}


def test_the_provider_unreachable_then_back_places_one_order(rig: PaymentRig, central_engine: Engine) -> None:
    rig.quote("out-1", "S-5", 600)
    rig.provider.reachable = False
    answer = rig.call("POST", "/api/v1/pay/orders", json={"car_park": "lakeview", "lane": "out-1",
                                                          "provider": "wechat"})  # fmt: skip
    assert answer.status_code == 502
    assert answer.json()["code"] == "payment.provider_unreachable"
    rig.provider.reachable = True
    order = rig.order("wechat")
    assert order["qr_code"]
    assert list(rig.provider.orders) == [order["id"]]
    assert rig.provider.pay(order["id"]) == 200
    assert rig.provider.pay(order["id"]) == 200
    with Session(central_engine) as session:
        assert session.scalar(select(func.count()).select_from(PaymentSettlement)) == 1


def test_no_vehicle_at_the_lane_or_a_withdrawn_quote_gives_no_order(rig: PaymentRig) -> None:
    answer = rig.call("POST", "/api/v1/pay/orders", json={"car_park": "lakeview", "lane": "out-9",
                                                          "provider": "wechat"})  # fmt: skip
    assert answer.status_code == 404
    assert answer.json()["code"] == "payment.no_vehicle"
    rig.quote("out-1", "S-6", 600)
    gone = {"lane": "out-1", "quoted_at": datetime.now(UTC).isoformat(), "withdrawn": True}
    answer = rig.call("POST", "/api/v1/edges/exit-quotes", headers=rig.edge, json=gone)
    assert answer.status_code == 200
    answer = rig.call("POST", "/api/v1/pay/orders", json={"car_park": "lakeview", "lane": "out-1",
                                                          "provider": "alipay"})  # fmt: skip
    assert answer.status_code == 404
    answer = rig.call("POST", "/api/v1/payments/notify/paypal", content=b"{}")
    assert answer.status_code == 404
    assert answer.json()["code"] == "payment.provider_unknown"


def test_the_driver_facing_endpoints_are_rate_limited_per_source_address(
    rig: PaymentRig, central_engine: Engine
) -> None:
    rig.app.state.driver_rates = {"pay_page": RequestRate(3, 60.0), "notify": RequestRate(2, 60.0)}
    rig.quote("out-1", "S-9", 800)
    assert rig.call("GET", "/pay/lane/lakeview/out-1").status_code == 200
    order = rig.order("wechat")
    assert rig.call("GET", f"/api/v1/pay/orders/{order['id']}").status_code == 200
    refused = rig.call("GET", "/pay/lane/lakeview/out-1")  # the fourth from this address within the minute
    assert refused.status_code == 429
    assert refused.json()["code"] == "rate_limited"
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert rig.call("POST", "/api/v1/pay/orders", json={"car_park": "lakeview", "lane": "out-1",
                                                         "provider": "wechat"}).status_code == 429  # fmt: skip
    assert rig.provider.pay(order["id"]) == 200
    assert rig.provider.notify(order["id"]) == 200
    assert rig.provider.notify(order["id"]) == 429  # a flood of notifications stops at the limit, before any work
    assert outcomes(central_engine) == ["applied", "duplicate"]
    metrics = rig.call("GET", "/metrics").text
    assert 'parkgate_central_rate_limited_total{endpoint="pay_page"} 2.0' in metrics
    assert 'parkgate_central_rate_limited_total{endpoint="notify"} 1.0' in metrics


def test_an_adapter_names_its_missing_settings_and_its_unreadable_key_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="WeChat Pay is not configured: set PARKGATE_WECHAT_MCHID, "):
        WeChatPayProvider(Settings(), timedelta(minutes=5))
    missing = tmp_path / "app.pem"
    settings = Settings(alipay_appid="2021", alipay_app_key_file=str(missing), alipay_public_key_file=str(missing))
    with pytest.raises(ValueError, match=r"Alipay: cannot read the app key file '.*app\.pem'"):
        AlipayProvider(settings, timedelta(minutes=5))


def test_a_day_outside_the_service_range_is_refused_not_a_server_error(rig: PaymentRig) -> None:
    """Found by schemathesis: day 0001-01-01 overflowed when turned into the day's instants (a 500)."""
    headers = rig.staff[Role.ADMIN]
    for path in ("/api/v1/payments/days/lakeview/0001-01-01", "/api/v1/payments/statements/wechat/0001-01-01"):
        answer = rig.call("GET", path, headers=headers)
        assert answer.status_code == 422, (path, answer.text)
        assert "day" in answer.text
