"""Pay stations: the HTTP API a kiosk in the car park speaks to its edge (``/kiosk/v1``), on the edge's console
listener, so paying works with central unreachable.

A kiosk finds the vehicle by plate or temporary card (``POST /kiosk/v1/quote``), takes the fee on its own card or
QR terminal, and reports the payment with the terminal's reference (``POST /kiosk/v1/payments``); the edge commits
it to the journal (method ``kiosk``, station = the pay station's id) and answers the receipt, which
``GET /kiosk/v1/receipts/{id}`` shows again. A vehicle waiting at an unattended exit is paid at its lane (the
transaction is committed with the opening); any other is paid ahead (:meth:`EdgeDaemon.prepay`) and leaves by
itself within the tariff's grace, paying the difference after it. A payment reported twice (a kiosk retrying after
a timeout) is taken once: the terminal's reference identifies it.

Each pay station authenticates with its own bearer token from the site file (``[pay_stations.<id>]``); bodies are
bounded in size and time like the cameras' listener.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Annotated, Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from edge.lanes.fees import FeeQuote
from edge.lanes.park import ParkState, Session
from edge.lanes.payments import PaymentRefusedError
from edge.runner import LaneRunner
from edge.store.journal import Journal
from edge.unattended.exit_payments import pay_at_lane, waits_at
from parking.plates import normalise_plate

_LOGGER = logging.getLogger(__name__)

PREFIX = "/kiosk/v1"
MAX_BODY = 8 * 1024  # a quote or a payment is a few hundred bytes
BODY_TIMEOUT_S = 10.0
MAX_MATCHES = 3
METHOD = "kiosk"

Quote = Callable[[str], FeeQuote]
Prepay = Callable[..., Awaitable[Any]]
Key = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class QuoteIn(_Body):
    plate: str | None = Field(default=None, min_length=2, max_length=16)
    card: str | None = Field(default=None, min_length=1, max_length=64)


class PaymentIn(_Body):
    session: Key
    amount: int = Field(ge=1, le=10_000_000)
    reference: Key = Field(description="the kiosk terminal's own transaction reference")
    tender: str = Field(default="bank_card", pattern=r"^(bank_card|cash|qr)$")


_M = TypeVar("_M", bound=BaseModel)


class KioskRefusedError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class PayStations:
    """The kiosk API over the edge's open sessions, its lanes and its journal."""

    def __init__(
        self, tokens: Mapping[str, str | None], park: ParkState, runners: Mapping[str, LaneRunner], journal: Journal,
        *, quote: Quote, prepay: Prepay, clock: Callable[[], datetime], car_park: str,
    ) -> None:  # fmt: skip
        self._tokens = {station: token for station, token in tokens.items() if token}
        for station in tokens.keys() - self._tokens.keys():
            _LOGGER.warning("pay station %s: no token (its token_env is not set); it is refused", station)
        self.park, self.runners, self.journal = park, runners, journal
        self.quote, self.prepay, self.clock, self.car_park = quote, prepay, clock, car_park
        self._paying = asyncio.Lock()  # one payment at a time: a retry must find the first one journaled

    def attach(self, app: web.Application) -> None:
        app.router.add_post(f"{PREFIX}/quote", self._handler(self.quote_vehicle))
        app.router.add_post(f"{PREFIX}/payments", self._handler(self.pay))
        app.router.add_get(f"{PREFIX}/receipts/{{record}}", self._handler(self.receipt_of))

    # ------------------------------------------------------------------------------------------ the boundary

    def _station(self, request: web.Request) -> str:
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
        for station, expected in self._tokens.items():
            if token and hmac.compare_digest(token.encode(), expected.encode()):
                return station
        raise KioskRefusedError(401, "kiosk.unauthorised", "a pay station's bearer token is required")

    async def _body(self, request: web.Request) -> Any:
        if (request.content_length or 0) > MAX_BODY:
            raise KioskRefusedError(413, "kiosk.body_too_large", f"body over {MAX_BODY} bytes")
        try:
            async with asyncio.timeout(BODY_TIMEOUT_S):
                raw = await request.content.read(MAX_BODY + 1)
        except TimeoutError as err:
            raise KioskRefusedError(408, "kiosk.body_timeout", f"body not sent within {BODY_TIMEOUT_S:g} s") from err
        if len(raw) > MAX_BODY:
            raise KioskRefusedError(413, "kiosk.body_too_large", f"body over {MAX_BODY} bytes")
        try:
            return json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise KioskRefusedError(400, "kiosk.not_json", f"the body is not JSON: {err}") from err

    def _handler(
        self, action: Callable[[str, web.Request], Awaitable[dict[str, Any]]]
    ) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            try:
                station = self._station(request)
                return web.json_response(await action(station, request))
            except KioskRefusedError as refused:
                _LOGGER.info("kiosk %s %s refused: %s", request.method, request.path, refused.message)
                return web.json_response({"error": refused.code, "message": refused.message}, status=refused.status)

        return handle

    async def _parsed(self, request: web.Request, model: type[_M]) -> _M:
        try:
            return model.model_validate(await self._body(request))
        except ValidationError as err:
            where = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in err.errors())
            raise KioskRefusedError(422, "kiosk.invalid", where) from err

    # ------------------------------------------------------------------------------------------ the actions

    def _vehicles(self, wanted: QuoteIn) -> list[Session]:
        if wanted.card is not None:
            session = self.park.by_card(wanted.card)
            return [session] if session is not None else []
        if wanted.plate is None:
            raise KioskRefusedError(422, "kiosk.invalid", "body: give plate or card")
        plate = normalise_plate(wanted.plate)
        found = self.park.by_plate(plate, min_similarity=0.8)
        exact = [session for session, _ in found if session.plate == plate]
        return exact or [session for session, _ in found[:MAX_MATCHES]]

    def _quoted(self, session: Session) -> dict[str, Any]:
        try:
            quote = self.quote(session.id)
        except PaymentRefusedError as refused:
            raise KioskRefusedError(409, "kiosk.no_quote", str(refused)) from refused
        return {"session": session.id, "plate": session.plate, "card": session.card,
                "entry_at": session.entry_at.isoformat(), "paid_before": session.paid, "due": quote.total,
                "currency": quote.currency, "lines": quote.lines, "flags": list(quote.flags),
                "tariff_hash": quote.tariff_hash}  # fmt: skip

    async def quote_vehicle(self, station: str, request: web.Request) -> dict[str, Any]:
        wanted = await self._parsed(request, QuoteIn)
        vehicles = self._vehicles(wanted)
        if not vehicles:
            raise KioskRefusedError(404, "kiosk.not_found", "no vehicle inside with that plate or card")
        return {"station": station, "vehicles": [self._quoted(session) for session in vehicles]}

    def _paid(self, station: str, reference: str) -> str | None:
        rows = self.journal.rows(
            "SELECT id FROM transactions WHERE json_extract(payload, '$.method') = ? AND "
            "json_extract(payload, '$.station') = ? AND json_extract(payload, '$.terminal_reference') = ? LIMIT 1",
            (METHOD, station, reference),
        )
        return str(rows[0][0]) if rows else None

    async def pay(self, station: str, request: web.Request) -> dict[str, Any]:
        paid = await self._parsed(request, PaymentIn)
        async with self._paying:
            if (done := self._paid(station, paid.reference)) is None:
                done = await self._take(station, paid)
        return self._receipt(done)

    async def _take(self, station: str, paid: PaymentIn) -> str:
        extra = {"method": METHOD, "station": station, "terminal_reference": paid.reference, "tender": paid.tender,
                 "tendered": paid.amount}  # fmt: skip
        now = self.clock()
        runner = next((r for r in self.runners.values() if waits_at(r, paid.session, paid.amount)), None)
        if runner is not None:  # the driver paid at the kiosk beside the exit: the lane opens with the payment
            await pay_at_lane(runner, now, operator=f"kiosk:{station}", reason=f"paid at pay station {station}",
                              amount=paid.amount, extra=extra)  # fmt: skip
        if (done := self._paid(station, paid.reference)) is not None:
            return done
        if self.park.sessions.get(paid.session) is None:
            raise KioskRefusedError(404, "kiosk.not_found", f"no vehicle inside with session {paid.session}")
        try:
            await self.prepay(paid.session, paid.amount, method=METHOD, station=station, extra=extra, at=now)
        except PaymentRefusedError as refused:
            raise KioskRefusedError(409, "kiosk.refused", str(refused)) from refused
        if (done := self._paid(station, paid.reference)) is None:
            raise KioskRefusedError(500, "kiosk.not_journaled", "the payment was not journaled")
        return done

    def _receipt(self, record: str) -> dict[str, Any]:
        rows = self.journal.rows(
            "SELECT id, kind, session_id, lane, at, amount, currency, lines, payload FROM transactions WHERE id = ? "
            "AND json_extract(payload, '$.method') = ?", (record, METHOD),
        )  # fmt: skip
        if not rows:
            raise KioskRefusedError(404, "kiosk.no_receipt", f"no pay station payment {record}")
        rid, kind, session, lane, at, amount, currency, lines, raw = rows[0]
        payload = json.loads(raw)
        return {"receipt": rid, "car_park": self.car_park, "station": payload.get("station"), "kind": kind,
                "session": session, "plate": payload.get("plate"), "lane": lane, "paid_at": at, "amount": amount,
                "currency": currency, "lines": json.loads(lines), "tender": payload.get("tender"),
                "reference": payload.get("terminal_reference"),
                "released": kind == "payment"}  # fmt: skip

    async def receipt_of(self, station: str, request: web.Request) -> dict[str, Any]:
        return self._receipt(request.match_info["record"][:64])
