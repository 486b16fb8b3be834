"""E-payments: the edge's quotes and settlements (edge token), the providers' notifications (their signature),
the driver's orders (no sign-in: the lane or the quote is the key), refunds and statements (staff)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import Field
from sqlalchemy import select

from central.api.deps import CurrentEdge, MetricsDep, SessionDep, SettingsDep, allow, rate_limited
from central.api.errors import ApiError, not_found
from central.api.fields import RequestModel, Text
from central.api.routes import API_PREFIX
from central.api.routes.reconciliation import Day
from central.audit import record_change
from central.core.db import utcnow
from central.core.security import Role
from central.models import CarPark, ExitQuote, PaymentOrder, StatementLine, User
from central.payments.orders import (
    OrderError,
    acknowledge,
    lane_quote,
    pending_settlements,
    place_order,
    take_notification,
    withdraw_lane_quotes,
)
from central.payments.providers import NotificationRefused, PaymentProvider, ProviderError
from central.payments.statement import e_payments_of_day, line_json, match_statement

router = APIRouter(prefix=API_PREFIX, tags=["payments"])
Key = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
ProviderName = Annotated[str, Path(pattern=r"^[a-z]{2,16}$")]
CarParkKey = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
Cashiers = allow(Role.CASHIER, Role.OFFICE)
Statements = allow(Role.SUPERVISOR, Role.CASHIER)
Readers = allow(Role.ADMIN, Role.SUPERVISOR, Role.CASHIER, Role.OFFICE, Role.AUDITOR)


def providers_of(request: Request) -> dict[str, PaymentProvider]:
    providers: dict[str, PaymentProvider] = request.app.state.payment_providers
    return providers


def provider_named(request: Request, name: str) -> PaymentProvider:
    provider = providers_of(request).get(name)
    if provider is None:
        raise ApiError(404, "payment.provider_unknown", f"no payment provider {name!r} is configured here",
                       {"providers": sorted(providers_of(request))})  # fmt: skip
    return provider


class ExitQuoteIn(RequestModel):
    """What the lane quoted for the vehicle in it (``withdrawn``: the vehicle left, nothing to pay there now)."""

    lane: Key
    session: Key | None = None
    plate: str = Field(default="", max_length=16)
    entry_at: datetime | None = None
    quoted_at: datetime
    tariff_id: str = Field(default="", max_length=64)
    tariff_hash: str = Field(default="", max_length=64)
    lines: list[dict[str, Any]] = Field(default_factory=list, max_length=100, description="the quote's breakdown")
    paid_before: int = Field(default=0, ge=0, le=10**9)
    total: int = Field(default=0, ge=0, le=10**9)
    currency: str = Field(default="CNY", pattern=r"^[A-Z]{3}$")
    withdrawn: bool = False


@router.post("/edges/exit-quotes", summary="The edge: the vehicle at an unattended exit and its fee",
             openapi_extra={"x-roles": ["edge"]})  # fmt: skip
def post_exit_quote(body: ExitQuoteIn, edge: CurrentEdge, session: SessionDep, settings: SettingsDep) -> dict[str, Any]:
    now = utcnow()
    withdraw_lane_quotes(session, edge.car_park_id, body.lane, now)
    if body.withdrawn or body.session is None:
        session.commit()
        return {"quote": None}
    quote = ExitQuote(
        car_park_id=edge.car_park_id, lane_id=body.lane, session_id=body.session, plate=body.plate,
        entry_at=body.entry_at, quoted_at=body.quoted_at, tariff_id=body.tariff_id, tariff_hash=body.tariff_hash,
        lines=body.lines, paid_before=body.paid_before, total=body.total,
        currency=body.currency, received_at=now,
    )  # fmt: skip
    session.add(quote)
    session.commit()
    base = (settings.payment_notify_base_url or "").rstrip("/")
    return {"quote": quote.id, "pay_url": f"{base}/pay/lane/{edge.car_park_id}/{body.lane}"}


@router.get("/edges/payments", summary="The edge: paid orders of its car park to commit to its journal",
            openapi_extra={"x-roles": ["edge"]})  # fmt: skip
def get_settlements(
    edge: CurrentEdge, session: SessionDep, since: Annotated[int, Query(ge=0, le=2**62)] = 0
) -> dict[str, Any]:
    return {"settlements": pending_settlements(session, edge.car_park_id, since)}


class Ack(RequestModel):
    settlement: int = Field(ge=1, le=2**62)
    record: Key


class AcksIn(RequestModel):
    acks: list[Ack] = Field(min_length=1, max_length=500)


@router.post("/edges/payments/ack", summary="The edge: settlements committed to its journal",
             openapi_extra={"x-roles": ["edge"]})  # fmt: skip
def post_acks(body: AcksIn, edge: CurrentEdge, session: SessionDep) -> dict[str, int]:
    changed = acknowledge(session, edge.car_park_id, edge.id, {a.settlement: a.record for a in body.acks}, utcnow())
    return {"acknowledged": changed}


@router.post("/payments/notify/{provider}", summary="A provider's payment notification (verified by its signature)",
             openapi_extra={"x-roles": ["provider"]}, dependencies=[rate_limited("notify")])  # fmt: skip
async def notify(provider: ProviderName, request: Request, metrics: MetricsDep) -> Response:
    adapter = provider_named(request, provider)
    body = await request.body()
    headers = dict(request.headers)
    source = request.client.host if request.client else ""

    def take() -> str:
        with request.app.state.sessions() as session:
            return take_notification(session, adapter, headers, body, utcnow(), source).outcome

    try:
        outcome = await run_in_threadpool(take)
    except NotificationRefused as refused:
        metrics.payment_notifications.labels(provider, f"refused.{refused.reason}").inc()
        raise ApiError(refused.status, f"payment.notification_{refused.reason}", refused.message) from refused
    metrics.payment_notifications.labels(provider, outcome).inc()
    status, text, media = adapter.acknowledgement()
    return Response(content=text, status_code=status, media_type=media)


class OrderIn(RequestModel):
    """A driver's order: for the vehicle now at ``lane`` or for a quote found by plate search (``quote``)."""

    car_park: Key
    lane: Key | None = None
    quote: int | None = Field(default=None, ge=1, le=2**62)
    provider: str = Field(pattern=r"^[a-z]{2,16}$")
    channel: Literal["native", "jsapi", "h5", "page"] = "native"
    payer_id: str | None = Field(default=None, max_length=128)


def order_json(order: PaymentOrder) -> dict[str, Any]:
    return {
        "id": order.id, "provider": order.provider, "state": order.state, "amount": order.amount,
        "currency": order.currency, "plate": order.plate, "lines": order.lines, **order.checkout,
        "paid_at": order.paid_at.isoformat() if order.paid_at else None,
    }  # fmt: skip


@router.post("/pay/orders", summary="The driver: an order to pay the vehicle's fee (the same request: the same "
             "order)", openapi_extra={"x-roles": ["public"]}, dependencies=[rate_limited("pay_page")])  # fmt: skip
def post_order(body: OrderIn, request: Request, session: SessionDep, settings: SettingsDep,
               metrics: MetricsDep) -> dict[str, Any]:  # fmt: skip
    adapter = provider_named(request, body.provider)
    now = utcnow()
    if body.quote is not None:
        quote = session.get(ExitQuote, body.quote)
        if quote is None or quote.car_park_id != body.car_park or quote.withdrawn_at is not None:
            raise ApiError(404, "payment.quote_not_found", f"no current quote {body.quote} at {body.car_park!r}")
    elif body.lane is not None:
        quote = lane_quote(session, body.car_park, body.lane, now)
        if quote is None:
            raise ApiError(404, "payment.no_vehicle", f"no vehicle with a fee due at lane {body.lane!r} now")
    else:
        raise ApiError(422, "request.invalid", "name the lane or the quote", [{"loc": ["body", "lane"]}])
    try:
        client_ip = request.client.host if request.client else None
        order = place_order(session, quote, adapter, body.channel, settings.payment_notify_base_url or "", now,
                            payer_id=body.payer_id, client_ip=client_ip)  # fmt: skip
    except OrderError as err:
        raise ApiError(err.status, err.code, err.message) from err
    except ProviderError as err:
        session.rollback()
        raise ApiError(502, "payment.provider_unreachable", str(err)) from err
    metrics.payment_orders.labels(adapter.name).inc()
    return order_json(order)


@router.get("/pay/orders/{order_id}", summary="The driver: an order's state (the page polls it)",
            openapi_extra={"x-roles": ["public"]}, dependencies=[rate_limited("pay_page")])  # fmt: skip
def get_order(order_id: Annotated[str, Path(pattern=r"^PG[0-9A-F]{20,30}$")], session: SessionDep) -> dict[str, Any]:
    order = session.get(PaymentOrder, order_id)
    if order is None:
        raise not_found("payment_order", order_id)
    return order_json(order)


class RefundIn(RequestModel):
    amount: int = Field(ge=1, le=10**9)
    reason: Text = Field(min_length=3)


@router.post("/payments/orders/{order_id}/refund", summary="Refund a paid order through its provider")
def refund_order(order_id: str, body: RefundIn, request: Request, session: SessionDep,
                 user: User = Cashiers) -> dict[str, Any]:  # fmt: skip
    order = session.scalars(select(PaymentOrder).where(PaymentOrder.id == order_id).with_for_update()).first()
    if order is None:
        raise not_found("payment_order", order_id)
    if order.state not in ("paid", "refunded") or body.amount > order.amount - order.refunded:
        raise ApiError(409, "payment.refund_exceeds", f"order {order_id} ({order.state}) has "
                                                      f"{order.amount - order.refunded} left to refund")  # fmt: skip
    before = {"state": order.state, "refunded": order.refunded}
    refund_id = f"{order.id}R{order.refunded + body.amount}"[:64]
    try:
        result = provider_named(request, order.provider).refund(order.id, refund_id, body.amount, order.amount,
                                                                 body.reason)  # fmt: skip
    except ProviderError as err:
        raise ApiError(502, "payment.provider_unreachable", str(err)) from err
    order.refunded += body.amount
    order.state = "refunded"
    record_change(session, user, "payment.refund", "payment_order", order.id, before,
                  {"state": order.state, "refunded": order.refunded, "refund_id": refund_id,
                   "provider_refund_no": result.provider_refund_no}, reason=body.reason)  # fmt: skip
    session.commit()
    return order_json(order)


@router.post("/payments/statements/{provider}/{day}", summary="Fetch the provider's statement of a day and match "
             "it against the orders")  # fmt: skip
def import_statement(provider: ProviderName, day: Day, request: Request, session: SessionDep,
                     user: User = Statements) -> dict[str, Any]:  # fmt: skip
    try:
        statement = provider_named(request, provider).statement(day)
    except ProviderError as err:
        raise ApiError(502, "payment.provider_unreachable", str(err)) from err
    lines = match_statement(session, statement, user.username, utcnow())
    record_change(session, user, "payment.statement_import", "payment_statement", f"{provider}:{day}", None,
                  {"lines": len(lines), "differences": sum(1 for line in lines if line.difference)})  # fmt: skip
    session.commit()
    return _statement_json(provider, day, lines)


@router.get("/payments/statements/{provider}/{day}", summary="A provider's statement of a day as matched")
def get_statement(provider: ProviderName, day: Day, session: SessionDep, _user: User = Readers) -> dict[str, Any]:
    query = select(StatementLine).where(StatementLine.provider == provider, StatementLine.day == day)
    lines = list(session.scalars(query.order_by(StatementLine.id)))
    return _statement_json(provider, day, lines)


def _statement_json(provider: str, day: date, lines: list[StatementLine]) -> dict[str, Any]:
    rows = [line_json(line) for line in lines]
    return {"provider": provider, "day": day.isoformat(), "lines": rows,
            "differences": [row for row in rows if row["difference"]]}  # fmt: skip


@router.get("/payments/days/{car_park}/{day}", summary="A car park's e-payments of a day by provider")
def get_day(car_park: CarParkKey, day: Day, session: SessionDep, _user: User = Readers) -> dict[str, Any]:
    park = session.get(CarPark, car_park)
    if park is None:
        raise not_found("car_park", car_park)
    return {"car_park": car_park, "day": day.isoformat(), **e_payments_of_day(session, car_park, day,
                                                                              ZoneInfo(park.timezone))}  # fmt: skip
