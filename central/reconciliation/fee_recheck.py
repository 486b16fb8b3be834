"""The fee re-check (复核): every temporary vehicle's fee computed again at central with :mod:`parking.tariff`, from
the transaction's entry and exit times, class, lost-card flag, coupons and earlier payments, with the exact tariff
version the edge named by its hash. A difference is listed with both breakdowns, the edge's and central's."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from central.reconciliation.findings import Finding
from central.reconciliation.shift_records import MoneyRow, ShiftRecords
from parking.tariff import Coupon, TariffError, quote


def _coupons(row: MoneyRow) -> list[Coupon]:
    coupons = []
    for item in row.coupons or []:
        if isinstance(item, dict):
            minutes, amount = item.get("minutes", 0), item.get("amount", 0)
            if isinstance(minutes, int) and isinstance(amount, int) and minutes >= 0 and amount >= 0:
                coupons.append(Coupon(minutes=minutes, amount=amount, code=str(item.get("code", ""))[:32]))
    return coupons


def recheck_fees(
    data: ShiftRecords, payments: Sequence[MoneyRow], lane_tx: Sequence[MoneyRow]
) -> tuple[dict[str, Any], list[Finding], int]:
    """Re-compute the fee of every booth payment and every lane exit that quoted a fee; answers a summary, the
    findings (differences, unresolvable tariffs) and how many quotes were computed."""
    findings: list[Finding] = []
    candidates = [*payments, *(r for r in lane_tx if r.event in ("payment", "nothing_due") and r.session_id)]
    checked = equal = 0
    tariffs, sessions, paid_ahead = data.tariffs, data.sessions, data.paid_ahead
    for row in candidates:
        digest = row.tariff_hash
        if not digest:
            closing = data.closings.get(row.record_id)
            digest = closing.tariff_hash if closing is not None else None
        if not digest:
            findings.append(Finding("tariff.unresolved", "the transaction names no tariff version", "exception",
                                    (row.record_id,)))  # fmt: skip
            continue
        if digest not in tariffs:
            findings.append(Finding("tariff.unresolved", f"central holds no tariff with hash {digest[:12]}…",
                                    "exception", (row.record_id,), {"tariff_hash": digest}))  # fmt: skip
            continue
        tariff = tariffs[digest]
        if tariff is None:
            findings.append(Finding("tariff.invalid", f"the tariff text with hash {digest[:12]}… does not compile",
                                    "exception", (row.record_id,), {"tariff_hash": digest}))  # fmt: skip
            continue
        session = sessions.get(str(row.session_id)) if row.session_id else None
        entry = row.entry_at or (session.entry_at or session.at if session is not None else None)
        exit_at = row.quoted_at or row.exit_at or row.at
        cls = row.vehicle_class or (session.vehicle_class if session is not None else None) or tariff.default_class
        if cls not in tariff.classes:
            cls = tariff.default_class  # as the edge's TariffFees: a class the tariff does not price pays the default
        paid, paid_at = 0, None
        for ahead in paid_ahead.get(str(row.session_id), ()) if row.session_id else ():
            if ahead.paid_at is not None and ahead.paid_at <= exit_at:
                paid, paid_at = ahead.paid_before or 0, ahead.paid_at
        try:
            result = quote(tariff, entry if entry is not None else None, exit_at, cls, lost_card=bool(row.lost_card),
                           paid=paid, paid_at=paid_at, coupons=_coupons(row))  # fmt: skip
        except TariffError as err:
            findings.append(Finding("fee.recheck_failed", f"the fee cannot be re-computed: {err}", "exception",
                                    (row.record_id,)))  # fmt: skip
            continue
        checked += 1
        charged = row.quoted if row.quoted is not None else 0
        if result.total == charged:
            equal += 1
            continue
        code = "fee.charged_below_tariff" if charged < result.total else "fee.charged_above_tariff"
        findings.append(Finding(
            code, f"charged {charged}, the tariff gives {result.total} ({row.plate or 'no plate'})", "exception",
            (row.record_id,),
            {"edge": {"amount": charged, "lines": []}, "central": result.to_json()},  # the edge's lines: see the loader
        ))  # fmt: skip
    # Any other transaction naming a tariff (a waiver or manual open over a quoted fee) must resolve it too.
    seen = {r.record_id for r in candidates}
    for row in (*data.booth_rows, *lane_tx):
        digest = row.tariff_hash
        if row.kind == "transaction" and digest and row.record_id not in seen and digest not in data.tariffs:
            findings.append(Finding("tariff.unresolved", f"central holds no tariff with hash {digest[:12]}…",
                                    "exception", (row.record_id,), {"tariff_hash": digest}))  # fmt: skip
    return {"checked": checked, "equal": equal, "different": checked - equal}, findings, checked
