"""The console's routes on the edge daemon's aiohttp app: the page, its assets, the JSON API and the live stream.

Every API answer is JSON; a refused request answers ``{"error": {"code", "message"}}`` with a 4xx status and
changes nothing. Amounts typed by the operator arrive as decimal text (``"20.00"``) and cash counts as
``{"<denomination in minor units>": count}``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, cast

from aiohttp import web

from edge.booth.cash import CashCountError
from edge.booth.desk import CONSOLE_SOURCE, BoothDesk, DeskError
from edge.booth.fonts import MissingFontError, find_cjk_font
from edge.booth.operator_text import OperatorTextError, operator_text
from edge.booth.operators import OperatorError, Outcome, SignInError
from edge.booth.payment import ShiftError
from edge.booth.receipt import DriverReceipt, receipt_escpos, receipt_pdf
from edge.booth.slip import PaymentSlip, slip_escpos, slip_pdf
from edge.console.auth import COOKIE, ConsoleSessions, SignedIn
from edge.console.views import report_view, session_view, state_view
from parking.json_bounds import json_depth_over
from parking.money import MoneyError, format_amount, minor_digits, parse_amount

_LOGGER = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
DESK = web.AppKey("console_desk", BoothDesk)
SESSIONS = web.AppKey("console_sessions", ConsoleSessions)
CLOSING = web.AppKey("console_closing", asyncio.Event)
KEEPALIVE_S = 15.0
Handler = Callable[[web.Request, SignedIn], Awaitable[web.StreamResponse]]
INPUT_CODES = ("input.", "payment.", "cash.", "cards.", "drop.bag_required", "drop.empty", "shift.no_", "waiver.")


BODY_MAX = 256 * 1024  # the largest console request is a cash count: a few hundred bytes
DEPTH_MAX = 8  # the console's bodies nest two levels (a count inside the body)


class BadInputError(Exception):
    def __init__(self, code: str, message: str, status: int = 422) -> None:
        self.code, self.message, self.status = code, message, status
        super().__init__(message)


def error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


# ------------------------------------------------------------------------------------------------ input parsing


async def body(request: web.Request) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise BadInputError("input.not_json", "send a JSON object (Content-Type: application/json)")
    if (request.content_length or 0) > BODY_MAX:
        raise BadInputError("input.too_large", f"the body is over {BODY_MAX} bytes", 413)
    chunks, size = [], 0
    while chunk := await request.content.read(65536):
        size += len(chunk)
        if size > BODY_MAX:
            raise BadInputError("input.too_large", f"the body is over {BODY_MAX} bytes", 413)
        chunks.append(chunk)
    raw = b"".join(chunks)
    if json_depth_over(raw, DEPTH_MAX):
        raise BadInputError("input.too_deep", f"the JSON nests deeper than {DEPTH_MAX} levels", 400)
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError, RecursionError) as err:
        raise BadInputError("input.not_json", f"the body is not JSON: {err}") from err
    if not isinstance(data, dict):
        raise BadInputError("input.not_object", "send a JSON object")
    return data


def text(data: dict[str, Any], name: str, *, required: bool = True, limit: int = 500, multiline: bool = False) -> str:
    """A text field as typed: stripped, bounded, no control characters (new lines only when ``multiline``)."""
    value = data.get(name, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise BadInputError("input.bad_field", f"{name} must be text")
    try:
        value = operator_text(value, name, limit=limit, multiline=multiline)
    except OperatorTextError as err:
        raise BadInputError(err.code, str(err)) from err
    if required and not value:
        raise BadInputError("input.missing", f"{name} is required")
    return value


# Bounds on what an operator types: far above any real booth, far below what breaks arithmetic or a report.
MAX_COUNT = 1_000_000  # cards, counts of anything
MAX_NOTES = 100_000  # notes or coins of one denomination in one count
MAX_TYPED_MAJOR = 1_000_000  # an amount typed at the booth, in major units (yuan, euros)


def max_typed_amount(currency: str) -> int:
    """The largest amount an operator may type, in minor units."""
    return int(MAX_TYPED_MAJOR * 10 ** minor_digits(currency))


def amount(data: dict[str, Any], name: str, currency: str) -> int | None:
    value = data.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise BadInputError("input.bad_amount", f"{name} must be decimal text such as 20.00")
    if len(value) > 24:
        raise BadInputError("input.bad_amount", f"{name} is too long for an amount")
    try:
        minor = parse_amount(value, currency)
    except MoneyError as err:  # its text says "amount": name the field the operator typed it in
        raise BadInputError("input.bad_amount", f"{name}: {err}") from err
    if minor < 0:
        raise BadInputError("input.bad_amount", f"{name} cannot be negative")
    limit = max_typed_amount(currency)
    if minor > limit:
        shown = format_amount(limit, currency)
        raise BadInputError("input.bad_amount", f"{name} is above {shown} {currency}, more than a booth ever takes")
    return minor


def count(data: dict[str, Any], name: str) -> int:
    return whole(data.get(name), name)


def whole(value: Any, name: str, limit: int = MAX_COUNT) -> int:
    if isinstance(value, str) and len(value) <= 12 and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise BadInputError("input.bad_count", f"{name} must be a whole number, 0 or more")
    if value > limit:
        raise BadInputError("input.bad_count", f"{name} is above {limit}, more than a booth ever counts")
    return value


def counts(data: dict[str, Any], name: str) -> dict[int, int]:
    value = data.get(name)
    if not isinstance(value, dict) or not value:
        raise BadInputError("input.bad_counts", f"{name} must map each denomination (minor units) to a count")
    out: dict[int, int] = {}
    if len(value) > 64:
        raise BadInputError("input.bad_counts", f"{name} has more lines than any currency has denominations")
    for key, number in value.items():
        if len(str(key)) > 12 or not str(key).isascii() or not str(key).isdigit():  # "²".isdigit(), int("²") fails
            raise BadInputError("input.bad_counts", f"denomination {str(key)[:16]!r} is not minor units")
        out[int(key)] = whole(number, f"{name}[{key}]", limit=MAX_NOTES)
    return out


def local_time(desk: BoothDesk, value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError as err:
        raise BadInputError("input.bad_time", f"{name} is not a time like 2026-11-27T08:30") from err
    return at.replace(tzinfo=desk.zone) if at.tzinfo is None else at


# ------------------------------------------------------------------------------------------------ the handlers


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def cross_site(request: web.Request) -> web.Response | None:
    """A state change a browser sent from another site (CSRF): refused. The cookie is SameSite=Strict already; this
    also refuses what a browser marks cross-site (``Sec-Fetch-Site``) or whose ``Origin`` is not the console's own
    host. Clients that send neither (the booth's own tools, scripts) are not browsers acting for someone."""
    if request.method in SAFE_METHODS:
        return None
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        return error(403, "csrf.cross_site", "a state change from another site is refused")
    origin = request.headers.get("Origin")
    if origin is not None and (origin == "null" or origin.partition("://")[2].rstrip("/") != request.host):
        return error(403, "csrf.origin", f"a state change from origin {origin[:80]!r} is refused")
    return None


def guarded(handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """Only a signed-in collector or supervisor; every refusal of the desk becomes a clear JSON error."""

    async def run(request: web.Request) -> web.StreamResponse:
        if (refused := cross_site(request)) is not None:
            return refused
        signed = request.app[SESSIONS].get(request.cookies.get(COOKIE))
        if signed is None:
            return error(401, "auth.required", "sign in with your operator id and PIN")
        CONSOLE_SOURCE.set(request.remote or "unknown")  # supervisor PINs are counted against it too
        try:
            return await handler(request, signed)
        except BadInputError as err:
            return error(err.status, err.code, err.message)
        except DeskError as err:
            return error(err.status, err.code, err.message)
        except ShiftError as err:
            status = 422 if err.code.startswith(INPUT_CODES) else 409
            return error(status, err.code, str(err).split(": ", 1)[-1])
        except CashCountError as err:
            return error(422, "cash.bad_count", str(err))
        except SignInError as err:
            return sign_in_refusal(err, supervisor=True)
        except OperatorError as err:
            return error(422, "operator.invalid", str(err))

    return run


def sign_in_refusal(err: SignInError, *, supervisor: bool = False) -> web.Response:
    prefix = "supervisor" if supervisor else "auth"
    if err.outcome is Outcome.RATE_LIMITED:
        until = err.locked_until.isoformat() if err.locked_until else ""
        response = error(429, f"{prefix}.rate_limited",
                         f"too many failed sign-ins from this device: try again after {until}")  # fmt: skip
        if err.locked_until is not None:
            wait = max(1, int((err.locked_until - datetime.now(err.locked_until.tzinfo)).total_seconds()) + 1)
            response.headers["Retry-After"] = str(wait)
        return response
    if err.outcome is Outcome.LOCKED or err.locked_until is not None:
        until = err.locked_until.isoformat() if err.locked_until else ""
        return error(423, f"{prefix}.locked", f"{err.operator} is locked until {until} after wrong PINs")
    if err.outcome is Outcome.NOT_SUPERVISOR:
        return error(403, "supervisor.not_supervisor", f"{err.operator} is not a supervisor")
    return error(403 if supervisor else 401, f"{prefix}.refused", "operator id or PIN not accepted")


async def sign_in(request: web.Request) -> web.Response:
    desk, sessions = request.app[DESK], request.app[SESSIONS]
    if (refused := cross_site(request)) is not None:
        return refused
    try:
        data = await body(request)
        operator, pin = text(data, "operator", limit=40), text(data, "pin", limit=16)
    except BadInputError as err:
        return error(err.status, err.code, err.message)
    try:
        found = await desk.sign_in(operator, pin, source=request.remote or "unknown")
    except SignInError as err:
        return sign_in_refusal(err)
    try:
        signed = sessions.start(found)
    except PermissionError as err:
        return error(403, "auth.role", str(err))
    response = web.json_response({"operator": found.id, "name": found.name, "role": found.role.value})
    response.set_cookie(COOKIE, signed.token, httponly=True, samesite="Strict", path="/console")
    return response


async def sign_out(request: web.Request, signed: SignedIn) -> web.Response:
    request.app[SESSIONS].end(signed.token)
    response = web.json_response({"ok": True})
    response.del_cookie(COOKIE, path="/console")
    return response


async def me(request: web.Request, signed: SignedIn) -> web.Response:
    op = signed.operator
    return web.json_response({"operator": op.id, "name": op.name, "role": op.role.value})


async def state(request: web.Request, signed: SignedIn) -> web.Response:
    return web.json_response(state_view(request.app[DESK]))


async def events(request: web.Request, signed: SignedIn) -> web.StreamResponse:
    """The live state, pushed as server-sent events whenever a lane or the shift changes."""
    desk, sessions = request.app[DESK], request.app[SESSIONS]
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await response.prepare(request)
    seen, quiet = -1, 0.0
    try:
        while sessions.get(signed.token) is not None and not request.app[CLOSING].is_set():
            if desk.version != seen:
                seen = desk.version
                payload = json.dumps(state_view(desk), ensure_ascii=False)
                await response.write(f"event: state\ndata: {payload}\n\n".encode())
                quiet = 0.0
                await asyncio.sleep(0.05)  # a burst of changes goes out as one update
                continue
            before = desk.version
            if await desk.wait_change(before, 1.0) == before:
                quiet += 1.0
                if quiet >= KEEPALIVE_S:
                    await response.write(b": keepalive\n\n")
                    quiet = 0.0
    except ConnectionResetError:
        pass  # the browser went away
    return response


def lane_action(name: str) -> Handler:
    async def act(request: web.Request, signed: SignedIn) -> web.Response:
        desk, lane = request.app[DESK], request.match_info["lane"]
        data = await body(request)
        who = signed.operator.id
        result: dict[str, Any] = {"ok": True}
        if name == "pay":
            method = text(data, "method", limit=16)
            if method not in ("cash", "epay", "bank_card"):
                raise BadInputError("payment.bad_method", f"unknown payment method {method!r}")
            record = await desk.take_payment(
                lane, who, cast(Literal["cash", "epay", "bank_card"], method),
                tendered=amount(data, "tendered", desk.currency), reference=text(data, "reference", required=False,
                                                                                 limit=64) or None,
            )  # fmt: skip
            result |= {"payment": record.id, "receipt_no": record.receipt_no, "amount": record.amount,
                       "tendered": record.tendered, "change": record.change}  # fmt: skip
        elif name == "waive":
            kind = text(data, "list_kind", limit=16)
            if kind not in ("free", "special"):
                raise BadInputError("waiver.bad_kind", "list_kind is free or special")
            await desk.waive(lane, who, cast(Literal["free", "special"], kind), text(data, "category", limit=40),
                             text(data, "reason"), text(data, "note", required=False, multiline=True))  # fmt: skip
        elif name == "lost-card":
            await desk.lost_card(lane, who)
        elif name == "manual-open":
            await desk.manual_open(lane, who, text(data, "reason"))
        elif name == "reject":
            await desk.refuse(lane, who, text(data, "reason", required=False))
        elif name == "attach":
            await desk.attach_entry(lane, who, text(data, "session", limit=64))
        elif name == "report-fault":
            note = text(data, "note", multiline=True)
            result["record"] = await desk.report_fault(who, lane, text(data, "device", required=False, limit=64), note)
        elif name == "coupon":
            await desk.apply_coupon(lane, who, text(data, "coupon", limit=32), text(data, "reason", required=False))
        elif name == "reset-anti-passback":
            await desk.reset_anti_passback(lane, who, text(data, "supervisor", limit=40), text(data, "pin", limit=16),
                                           text(data, "reason", required=False))  # fmt: skip
        return web.json_response(result)

    return act


async def acknowledge_alert(request: web.Request, signed: SignedIn) -> web.Response:
    """The collector acknowledges one alert of the booth's list (journaled with who and when)."""
    alert = await request.app[DESK].acknowledge_alert(signed.operator.id, request.match_info["alert"][:64])
    return web.json_response({"ok": True, "alert": alert["id"], "acknowledged_at": alert["acknowledged_at"]})


async def search(request: web.Request, signed: SignedIn) -> web.Response:
    desk, query = request.app[DESK], request.query
    found = desk.search(query.get("plate", ""), local_time(desk, query.get("since"), "since"),
                        local_time(desk, query.get("until"), "until"))  # fmt: skip
    return web.json_response({"sessions": [session_view(desk, s) for s in found]})


def shift_action(name: str) -> Handler:
    async def act(request: web.Request, signed: SignedIn) -> web.Response:
        desk, data, who = request.app[DESK], await body(request), signed.operator.id
        if name == "open":
            await desk.open_shift(who, counts(data, "float"), count(data, "cards_stock"),
                                  data.get("acknowledge") is True)  # fmt: skip
        elif name == "drop":
            witness = text(data, "witness", required=False, limit=40) or None
            await desk.drop_cash(who, text(data, "bag", limit=32), counts(data, "counts"), witness)
        elif name == "close":
            cards = count(data, "cards_on_hand"), count(data, "cards_collected")
            note = text(data, "note", required=False, multiline=True)
            shift = await desk.close_shift(who, counts(data, "counts"), *cards, note)
            printer = desk.printer()
            if printer is not None:  # the slip on the booth's receipt printer too, without holding the answer
                desk.print_later(printer, slip_escpos(slip_document(desk, shift)), "payment slip")
            return web.json_response({"ok": True, "report": report_view(desk, shift)})
        elif name == "reopen":
            await desk.reopen_report(who, text(data, "supervisor", limit=40), text(data, "pin", limit=16),
                                     text(data, "reason"))  # fmt: skip
        elif name == "reverse":
            await desk.reverse_payment(who, text(data, "payment", limit=64), text(data, "reason"))
        return web.json_response({"ok": True})

    return act


def _shift(desk: BoothDesk, shift_id: str) -> Any:
    for shift in desk.booth.shifts:
        if shift.id == shift_id:
            return shift
    raise DeskError("shift.unknown", f"no shift {shift_id}", 404)


async def report(request: web.Request, signed: SignedIn) -> web.Response:
    desk = request.app[DESK]
    view = report_view(desk, _shift(desk, request.match_info["shift"]))
    if view is None:
        raise DeskError("shift.no_report", "the shift has not closed yet", 404)
    return web.json_response(view)


def slip_document(desk: BoothDesk, shift: Any) -> PaymentSlip:
    if shift.report is None:
        raise DeskError("shift.no_report", "the shift has not closed yet: no payment slip", 404)
    operator = desk.operators.get(shift.operator)
    closed = datetime.fromisoformat(shift.report.closed_at).astimezone(desk.zone)
    return PaymentSlip.from_report(
        shift.report, number=f"JK-{closed:%Y%m%d}-{desk.booth_id}-{shift.id[-6:]}", zone=desk.zone,
        car_park_name=desk.car_park_name,
        operator_name=f"{operator.name}({operator.id})" if operator else shift.operator,
    )  # fmt: skip


def no_printer(lane: str | None) -> DeskError:
    where = f"lane {lane}" if lane else "the booth"
    return DeskError("printer.none", f"{where} has no receipt printer in the site file: print the PDF", 404)


async def slip(request: web.Request, signed: SignedIn) -> web.Response:
    desk = request.app[DESK]
    shift = _shift(desk, request.match_info["shift"])
    document = slip_document(desk, shift)
    try:
        data = await asyncio.to_thread(slip_pdf, document)
    except MissingFontError as err:
        raise DeskError("slip.no_font", str(err), 503) from err
    name = f"slip-{shift.id}.pdf"
    return web.Response(body=data, content_type="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="{name}"'})  # fmt: skip


async def print_slip(request: web.Request, signed: SignedIn) -> web.Response:
    """The payment slip of a closed shift on the booth's ESC/POS printer."""
    desk = request.app[DESK]
    document = slip_document(desk, _shift(desk, request.match_info["shift"]))
    printer = desk.printer()
    if printer is None:
        raise no_printer(None)
    await desk.print_job(printer, slip_escpos(document), "payment slip")
    return web.json_response({"ok": True, "printer": printer.name})


def _payment(desk: BoothDesk, payment_id: str) -> Any:
    payment = next((s.tally.payments[payment_id] for s in desk.booth.shifts if payment_id in s.tally.payments), None)
    if payment is None:
        raise DeskError("payment.unknown", f"no booth payment {payment_id}", 404)
    return payment


async def print_receipt(request: web.Request, signed: SignedIn) -> web.Response:
    """The driver's receipt on the ESC/POS printer of the payment's lane."""
    desk = request.app[DESK]
    payment = _payment(desk, request.match_info["payment"])
    document = DriverReceipt.from_payment(payment, car_park_name=desk.car_park_name, zone=desk.zone)
    printer = desk.printer(payment.lane)
    if printer is None:
        raise no_printer(payment.lane)
    await desk.print_job(printer, receipt_escpos(document), "receipt")
    return web.json_response({"ok": True, "printer": printer.name})


async def receipt(request: web.Request, signed: SignedIn) -> web.Response:
    """The driver's receipt (停车收费凭证) of a booth payment, as PDF."""
    desk = request.app[DESK]
    payment = _payment(desk, request.match_info["payment"])
    document = DriverReceipt.from_payment(payment, car_park_name=desk.car_park_name, zone=desk.zone)
    try:
        data = await asyncio.to_thread(receipt_pdf, document)
    except MissingFontError as err:
        raise DeskError("receipt.no_font", str(err), 503) from err
    disposition = f'inline; filename="receipt-{payment.receipt_no}.pdf"'
    return web.Response(body=data, content_type="application/pdf", headers={"Content-Disposition": disposition})


async def image(request: web.Request, signed: SignedIn) -> web.StreamResponse:
    path = request.app[DESK].image_path(request.match_info["ref"])
    if path is None:
        raise DeskError("image.unknown", "no such image", 404)
    return web.FileResponse(path, headers={"Cache-Control": "private, max-age=3600"})


async def font(request: web.Request) -> web.StreamResponse:
    """The CJK font the PDFs use, for the page too: a booth PC may have no Chinese font and no internet."""
    try:
        found = find_cjk_font()
    except MissingFontError:
        raise web.HTTPNotFound(text="no CJK font on this edge") from None
    return web.FileResponse(found.path, headers={"Cache-Control": "public, max-age=86400"})


async def page(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


async def to_page(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/console/")


async def no_such_api(request: web.Request) -> web.Response:
    """Every API answer is JSON, a mistyped path or method too."""
    return error(404, "api.not_found", f"no console API {request.method} {request.path[:120]}")


def attach_console(app: web.Application, desk: BoothDesk) -> None:
    """Serve the booth console under ``/console/`` on ``app`` (the daemon's metrics server)."""
    app[DESK] = desk
    app[SESSIONS] = ConsoleSessions()

    app[CLOSING] = asyncio.Event()

    async def closing(app: web.Application) -> None:
        app[CLOSING].set()  # live streams end, so the server's shutdown does not wait on them

    app.on_shutdown.append(closing)
    api = "/console/api"
    app.router.add_get("/console", to_page)
    app.router.add_get("/console/", page)
    app.router.add_static("/console/static/", STATIC)
    app.router.add_get("/console/font.otf", font)
    app.router.add_post(f"{api}/sign-in", sign_in)
    app.router.add_post(f"{api}/sign-out", guarded(sign_out))
    app.router.add_get(f"{api}/me", guarded(me))
    app.router.add_get(f"{api}/state", guarded(state))
    app.router.add_get(f"{api}/events", guarded(events))
    for name in ("pay", "waive", "lost-card", "manual-open", "reject", "attach", "coupon", "reset-anti-passback",
                 "report-fault"):  # fmt: skip
        app.router.add_post(f"{api}/lanes/{{lane}}/{name}", guarded(lane_action(name)))
    app.router.add_post(f"{api}/alerts/{{alert}}/acknowledge", guarded(acknowledge_alert))
    app.router.add_get(f"{api}/search", guarded(search))
    for name in ("open", "drop", "close", "reopen", "reverse"):
        app.router.add_post(f"{api}/shift/{name}", guarded(shift_action(name)))
    app.router.add_get(f"{api}/shifts/{{shift}}/report", guarded(report))
    app.router.add_get(f"{api}/shifts/{{shift}}/slip.pdf", guarded(slip))
    app.router.add_get(f"{api}/payments/{{payment}}/receipt.pdf", guarded(receipt))
    app.router.add_post(f"{api}/shifts/{{shift}}/print-slip", guarded(print_slip))
    app.router.add_post(f"{api}/payments/{{payment}}/print", guarded(print_receipt))
    app.router.add_get(f"{api}/images/{{ref}}", guarded(image))
    app.router.add_route("*", api, no_such_api)  # last: what no route above takes
    app.router.add_route("*", f"{api}/{{tail:.*}}", no_such_api)
