"""Quoting a stay: split it into pieces at band and cycle boundaries, price each piece by its own lines, cap.

Everything runs on integer seconds (UTC epoch; local wall-clock seconds only to place band edges and calendar
resets) and integer minor units. A piece's units are computed arithmetically, never counted one by one, and the
work per cycle or band occurrence is bounded, so a year-long stay costs O(cycles) and not O(units).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from math import floor

from parking.money import format_amount
from parking.tariff.breakdown import Coupon, Quote, QuoteLine
from parking.tariff.compile import ClassPricing, PieceCost, Tariff
from parking.tariff.errors import (
    ExitBeforeEntryError,
    LostCardError,
    NaiveDatetimeError,
    StayError,
    UnknownVehicleClassError,
)
from parking.tariff.timeline import band_changes, cycle_starts, regular_runs
from parking.tariff.wall_clock import DAY

_MEMO_MAX = 4096


def _epoch(moment: datetime, what: str) -> int:
    if moment.tzinfo is None:
        raise NaiveDatetimeError(f"{what} {moment.isoformat()} has no time zone: give an aware datetime")
    return floor(moment.timestamp())


def _piece_cost(pricing: ClassPricing, band: int, seconds: int) -> PieceCost:
    memo = pricing.piece_costs
    key = (band, seconds)
    cost = memo.get(key)
    if cost is not None:
        return cost
    lines, cap = pricing.rates[band]
    items = []
    charged = 0
    rest = seconds
    for span, unit, price in lines:
        take = rest if span is None or rest < span else span
        units = -(-take // unit)
        items.append((units, unit // 60, price))
        charged += units * price
        rest -= take
        if rest <= 0:
            break
    if cap is not None and charged > cap:
        cost = (tuple(items), charged, cap, cap)
    else:
        cost = (tuple(items), charged, charged, None)
    if len(memo) >= _MEMO_MAX:
        memo.clear()
    memo[key] = cost
    return cost


def _fold_last(lines: list[QuoteLine]) -> None:
    """Fold the last line into the one before when both are identical back-to-back occurrences of one piece."""
    now, before = lines[-1], lines[-2]
    length = now.seconds
    if (
        before.kind == "stay"
        and before.end == now.start
        and before.seconds == length
        and (before.repeat == 1 or before.every == length)
        and (now.repeat == 1 or now.every == length)
        and (now.band, now.items, now.amount, now.cap) == (before.band, before.items, before.amount, before.cap)
    ):
        lines.pop()
        lines[-1] = before._replace(end=now.end, repeat=before.repeat + now.repeat, every=length)


def _whole_cycles(
    tariff: Tariff, pricing: ClassPricing, band: int, start: int, end: int, cycles: list[int], cycle: int
) -> tuple[int, list[QuoteLine]]:
    """One band throughout and cycles of exactly one day: the cycles between the first and the last are identical,
    so one is priced and multiplied (a year-long stay costs as much as a three-day one)."""
    cycle_cap = pricing.cycle_cap
    name = tariff.band_names[band]
    count = len(cycles) - 1
    lines: list[QuoteLine] = []
    total = 0
    spans = ((start, cycles[0], 0, 1), (cycles[0], cycles[0] + DAY, 1, count), (cycles[-1], end, count + 1, 1))
    for a, b, number, repeat in spans:
        items, charged, amount, cap = _piece_cost(pricing, band, b - a)
        if cycle_cap is not None and amount > cycle_cap:
            amount = cap = cycle_cap
        every = DAY if repeat > 1 else 0
        line = QuoteLine(
            "stay", a, b + every * (repeat - 1), name, cycle + number, items, charged, amount, cap, repeat, every
        )
        lines.append(line)
        total += amount * repeat
        if len(lines) > 1:
            _fold_last(lines)
    return total, lines


def charge_stay(
    tariff: Tariff, pricing: ClassPricing, anchor: int, start: int, end: int
) -> tuple[int, list[QuoteLine]]:
    """The capped fee for charging ``[start, end)`` (UTC epoch seconds), cycles anchored at ``anchor``; with lines.

    A run of identical days is priced once and multiplied, so a year-long stay costs little more than a week.
    """
    if end <= start:
        return 0, []
    cycled = tariff.cycle_kind is not None
    total = 0
    lines: list[QuoteLine] = []
    cursor, cycle = start, 0
    for first, days in regular_runs(tariff, anchor, start, end):
        walked, walk_lines, cycle = _walk(tariff, pricing, anchor, cursor, first, cycle)
        cycle += cycled
        day_total, day, _ = _walk(tariff, pricing, anchor, first, first + DAY, cycle)
        total += walked + days * day_total
        lines += walk_lines
        for line in day:
            lines.append(line._replace(repeat=days, every=DAY, end=line.end and line.end + (days - 1) * DAY))
            if len(day) == 1 and len(lines) > 1:
                _fold_last(lines)  # whole single-piece cycles before the run are the same as those in it
        cursor, cycle = first + days * DAY, cycle + days * cycled
    walked, walk_lines, _ = _walk(tariff, pricing, anchor, cursor, end, cycle)
    return total + walked, lines + walk_lines


def _walk(
    tariff: Tariff, pricing: ClassPricing, anchor: int, start: int, end: int, cycle: int
) -> tuple[int, list[QuoteLine], int]:
    """Price ``[start, end)`` piece by piece; ``cycle`` numbers the cycle ``start`` lies in, and the number of the
    cycle ``end`` lies in is returned with the total and the lines."""
    if end <= start:
        return 0, [], cycle
    band, band_times, band_values = band_changes(tariff, start, end)
    cycle_times = cycle_starts(tariff, anchor, start, end)
    nb, nc = len(band_times), len(cycle_times)
    if not nb and nc >= 3 and cycle_times[-1] - cycle_times[0] == (nc - 1) * DAY:
        whole_total, whole_lines = _whole_cycles(tariff, pricing, band, start, end, cycle_times, cycle)
        return whole_total, whole_lines, cycle + nc
    lines: list[QuoteLine] = []
    names = tariff.band_names
    cycle_cap = pricing.cycle_cap
    total = 0
    i = j = 0
    cycle_sum = 0
    cycle_first_line = 0
    single_before = False  # the previous cycle was one uncut piece (so an identical one can fold into its line)
    t = start
    while True:
        tb = band_times[i] if i < nb else end
        tc = cycle_times[j] if j < nc else end
        nxt = tb if tb < tc else tc
        if nxt > t:
            items, charged, amount, cap = _piece_cost(pricing, band, nxt - t)
            lines.append(QuoteLine("stay", t, nxt, names[band], cycle, items, charged, amount, cap))
            cycle_sum += amount
        if nxt == tc or nxt >= end:
            # close the cycle
            count = len(lines) - cycle_first_line
            if cycle_cap is not None and cycle_sum > cycle_cap:
                if count == 1:
                    last = lines[-1]  # a line of this walk: built here, with the rest of its fields at defaults
                    lines[-1] = QuoteLine("stay", last.start, last.end, last.band, last.cycle, last.items,
                                          last.charged, cycle_cap, cycle_cap)  # fmt: skip
                else:
                    lines.append(QuoteLine("cycle_cap", cycle=cycle, amount=cycle_cap - cycle_sum, cap=cycle_cap))
                cycle_sum = cycle_cap
            total += cycle_sum
            if count == 1 and single_before:
                _fold_last(lines)
            single_before = count == 1
            if nxt >= end:
                return total, lines, cycle
            cycle += 1
            cycle_sum = 0
            cycle_first_line = len(lines)
            j += 1
        if nxt == tb:
            band = band_values[i]
            i += 1
        t = nxt


def quote(
    tariff: Tariff,
    entry: datetime | None,
    exit: datetime,
    vehicle_class: str | None = None,
    *,
    lost_card: bool = False,
    paid: int = 0,
    paid_at: datetime | None = None,
    coupons: Iterable[Coupon] = (),
) -> Quote:
    """What is due at ``exit`` for a stay that began at ``entry`` (aware datetimes), itemised.

    ``vehicle_class`` defaults to the tariff's default class. ``entry`` may be ``None`` only with ``lost_card``
    (the flat lost-card fee). ``paid`` minor units already paid at ``paid_at``: within the grace minutes after
    paying nothing more is due, later the fee minus what was paid (never below zero). ``coupons`` give free
    minutes or an amount off after caps. Raises a :class:`TariffError` subclass for an impossible request.
    """
    cls = tariff.default_class if vehicle_class is None else vehicle_class
    pricing = tariff.classes.get(cls)
    if pricing is None:
        raise UnknownVehicleClassError(
            f"tariff {tariff.id!r} has no vehicle class {cls!r}; classes: {', '.join(tariff.classes)}"
        )
    e = _epoch(exit, "exit")
    currency = tariff.currency
    flags: list[str] = []
    lines: list[QuoteLine]
    if entry is None:
        if not lost_card:
            raise StayError("the entry time is unknown: only a lost-card quote can be made without it")
        if pricing.lost_card_fee is None:
            raise LostCardError(f"tariff {tariff.id!r} has no lost-card fee, and the entry time is unknown")
        fee = pricing.lost_card_fee
        lines = [QuoteLine("lost_card", amount=fee, note="entry unknown: flat lost-card fee")]
        flags += ["lost_card", "entry_unknown"]
        s = e
    else:
        s = _epoch(entry, "entry")
        if e < s:
            raise ExitBeforeEntryError(f"exit {exit.isoformat()} is before entry {entry.isoformat()}")
        minutes_off = 0
        amount_off = 0
        for coupon in coupons:
            minutes_off += coupon.minutes
            amount_off += coupon.amount
        if e - s <= tariff.free_seconds:
            fee = 0
            lines = [QuoteLine("free_period", s, e, note=f"stay within {tariff.free_seconds // 60} free minutes")]
            flags.append("free_period")
        else:
            start = s + tariff.free_seconds if tariff.free_deducted else s
            end = max(start, e - minutes_off * 60)
            fee, lines = charge_stay(tariff, pricing, s, start, end)
            if tariff.free_deducted:
                lines.insert(0, QuoteLine("free_period", s, start, note="free minutes deducted"))
            if minutes_off:
                lines.append(QuoteLine("coupon", end, e, note=f"coupon: last {minutes_off} minutes free"))
        if lost_card:
            if pricing.lost_card_fee is None:
                raise LostCardError(f"tariff {tariff.id!r} has no lost-card fee")
            flat = pricing.lost_card_fee
            card_fee = max(flat, fee) if tariff.lost_card_computed_if_more else flat
            if card_fee != fee:
                lines.append(QuoteLine("lost_card", amount=card_fee - fee, note="lost card: flat fee"))
            fee = card_fee
            flags.append("lost_card")
        if amount_off:
            off = min(amount_off, fee)
            lines.append(QuoteLine("coupon", amount=-off, note=f"{format_amount(amount_off, currency)} off"))
            fee -= off
        if tariff.max_stay_seconds is not None and e - s > tariff.max_stay_seconds:
            flags.append("max_session_exceeded")
    total = fee
    if paid < 0:
        raise StayError(f"paid cannot be negative, got {paid}")
    if paid or paid_at is not None:
        if paid_at is None:
            raise StayError("give paid_at (when the payment was made) together with paid")
        p = _epoch(paid_at, "paid_at")
        if p > e:
            raise StayError(f"paid_at {paid_at.isoformat()} is after the exit {exit.isoformat()}")
        if entry is not None and p < s:
            raise StayError(f"paid_at {paid_at.isoformat()} is before the entry {entry.isoformat()}")
        credited = min(paid, fee)
        if credited:
            lines.append(QuoteLine("paid", start=p, amount=-credited, note=f"paid {format_amount(paid, currency)}"))
        total = fee - credited
        if e - p <= tariff.grace_seconds:
            if total:
                lines.append(QuoteLine("grace", p, e, amount=-total, note="within the grace time after payment"))
            total = 0
            flags.append("within_grace")
    return Quote(
        total=total,
        currency=tariff.currency,
        lines=tuple(lines),
        tariff_id=tariff.id,
        tariff_hash=tariff.content_hash,
        flags=tuple(flags),
        vehicle_class=cls,
        entry=entry,
        exit=exit,
        fee=fee,
        paid=paid,
        timezone=tariff.timezone,
    )
