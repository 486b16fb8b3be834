"""``parkgate fee quote``: what a stay costs under a tariff file, as a readable breakdown or as JSON."""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from parking.cli import UsageError

if TYPE_CHECKING:
    from parking.tariff import Quote, QuoteLine, Tariff

QUOTE_HELP = """\
Quote the fee of one stay. Times are ISO 8601 (2026-03-02T08:00, 2026-03-02T08:00+08:00, ...Z); a time
without an offset is local time in the tariff's time zone. --entry unknown is allowed with --lost-card.
Amounts (--paid, coupons) are decimal text in the tariff's currency, e.g. 10.00.
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``fee quote`` to the ``parkgate`` command."""
    fee = subparsers.add_parser("fee", help="quote parking fees with a tariff file")
    actions = fee.add_subparsers(dest="fee_command", metavar="ACTION", required=True)
    quote = actions.add_parser("quote", help="the fee of one stay, itemised", description=QUOTE_HELP)
    quote.add_argument("--tariff", required=True, type=Path, metavar="FILE", help="tariff TOML file")
    quote.add_argument("--entry", required=True, metavar="ISO8601", help="entry time, or 'unknown' with --lost-card")
    quote.add_argument("--exit", required=True, metavar="ISO8601", help="exit time")
    quote.add_argument("--class", dest="vehicle_class", metavar="CLASS", help="vehicle class (default: the tariff's)")
    quote.add_argument("--lost-card", action="store_true", help="the temporary card is lost")
    quote.add_argument("--paid", metavar="AMOUNT", help="already paid, e.g. 10.00 (needs --paid-at)")
    quote.add_argument("--paid-at", metavar="ISO8601", help="when it was paid (the grace time runs from here)")
    quote.add_argument(
        "--coupon",
        action="append",
        default=[],
        metavar="COUPON",
        help="a validation: free time (30min, 2h) or an amount off (5.00); repeatable",
    )
    quote.add_argument("--json", action="store_true", help="print the quote as JSON (amounts in minor units)")
    quote.set_defaults(handler=run_quote)


def _moment(text: str, option: str, zone: ZoneInfo) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"{option} {text!r} is not an ISO 8601 time such as 2026-03-02T08:00") from None
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment


def run_quote(args: argparse.Namespace) -> int:
    """Handle ``parkgate fee quote``: print the quote, or one clear error (exit status 1)."""
    from parking.money import MoneyError, parse_amount
    from parking.tariff import Coupon, TariffError, TariffFileError, load_tariff, quote

    try:
        tariff = load_tariff(args.tariff)
    except TariffFileError as err:
        details = "\n".join(f"  {problem}" for problem in err.problems)
        count = len(err.problems)
        raise UsageError(f"{err.source}: {count} error{'s' if count != 1 else ''} in the tariff\n{details}") from None
    zone = ZoneInfo(tariff.timezone)
    entry = None
    if args.entry.strip().lower() == "unknown":
        if not args.lost_card:
            raise UsageError("--entry unknown is only allowed with --lost-card")
    else:
        entry = _moment(args.entry, "--entry", zone)
    exit = _moment(args.exit, "--exit", zone)
    paid = 0
    paid_at = None
    if (args.paid is None) != (args.paid_at is None):
        raise UsageError("--paid and --paid-at go together")
    if args.paid is not None:
        try:
            paid = parse_amount(args.paid, tariff.currency)
        except MoneyError as err:
            raise UsageError(f"--paid: {err}") from None
        if paid < 0:
            raise UsageError(f"--paid cannot be negative, got {args.paid}")
        paid_at = _moment(args.paid_at, "--paid-at", zone)
    try:
        coupons = [Coupon.parse(text, tariff.currency) for text in args.coupon]
        result = quote(
            tariff,
            entry,
            exit,
            args.vehicle_class,
            lost_card=args.lost_card,
            paid=paid,
            paid_at=paid_at,
            coupons=coupons,
        )
    except TariffError as err:
        raise UsageError(str(err)) from None
    if args.json:
        print(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    else:
        print(render(tariff, result))
    return 0


def _time(seconds: int | None, zone: ZoneInfo) -> str:
    if seconds is None:
        return "-"
    return datetime.fromtimestamp(seconds, zone).isoformat(sep=" ", timespec="minutes")


def _duration(seconds: int) -> str:
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    text = f"{hours} h {minutes:02d} min"
    return f"{days} d {text}" if days else text


def _line_text(line: QuoteLine, zone: ZoneInfo, currency: str) -> str:
    from parking.money import format_amount

    money = format_amount(line.amount * line.repeat, currency)
    if line.kind != "stay":
        span = f"{_time(line.start, zone)} -> {_time(line.end, zone)}  " if line.start is not None else ""
        what = line.note or line.kind
        if line.kind == "cycle_cap":
            what = f"cycle {(line.cycle or 0) + 1} capped at {format_amount(line.cap or 0, currency)}"
        return f"  {line.kind:10s} {span}{what}: {money}"
    units = " + ".join(
        f"{count} x {minutes} min x {format_amount(price, currency)}" for count, minutes, price in line.items
    )
    text = (
        f"  stay       {_time(line.start, zone)} -> {_time(line.end, zone)}  band {line.band}, "
        f"cycle {(line.cycle or 0) + 1}: {units} = {format_amount(line.charged, currency)}"
    )
    if line.cap is not None:
        text += f", capped at {format_amount(line.cap, currency)}"
    if line.repeat > 1:
        text += (
            f"\n             x {line.repeat} (every {_duration(line.every)}, each {_duration(line.seconds)}, "
            f"{format_amount(line.amount, currency)} each) = {money}"
        )
    return text


def render(tariff: Tariff, result: Quote) -> str:
    """The quote as text for a person: the stay, one line per piece, what was taken off, the total."""
    from parking.money import format_amount

    zone = ZoneInfo(tariff.timezone)
    out = [
        f"Tariff {tariff.id}{f' ({tariff.name})' if tariff.name else ''}, {tariff.timezone}, "
        f"sha256 {tariff.content_hash[:16]}"
    ]
    if result.entry is None:
        out.append(f"Stay: entry unknown -> {_time(int(result.exit.timestamp()), zone)}, class {result.vehicle_class}")
    else:
        begin, end = int(result.entry.timestamp()), int(result.exit.timestamp())
        out.append(
            f"Stay: {_time(begin, zone)} -> {_time(end, zone)} ({_duration(end - begin)}), class {result.vehicle_class}"
        )
    out += [_line_text(line, zone, result.currency) for line in result.lines]
    if result.paid:
        out.append(
            f"Fee {format_amount(result.fee, result.currency)}, already paid "
            f"{format_amount(result.paid, result.currency)}"
        )
    out.append(f"Total due: {format_amount(result.total, result.currency)} {result.currency}")
    if result.flags:
        out.append(f"Flags: {', '.join(result.flags)}")
    return "\n".join(out)
