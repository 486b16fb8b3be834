"""One shift reconciled from what central received, with central's own arithmetic beside the edge's report.

Pure: :func:`reconcile_shift` reads a :class:`~.shift_records.ShiftRecords` and a ``now``, and answers a
:class:`ShiftResult`; it never touches the database. While records of the shift are missing (a gap in the edge's
chain), figures that depend on them are listed as ``info``: the gap itself is the exception.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from central.reconciliation.fee_recheck import recheck_fees
from central.reconciliation.findings import Finding, ReconcileSettings, Severity
from central.reconciliation.shift_records import MoneyRow, ShiftRecords

METHODS = ("cash", "epay", "bank_card")
EXIT_EVENTS = frozenset({"payment", "waiver", "manual_open", "pass", "nothing_due"})


@dataclass
class ShiftResult:
    shift: str
    car_park: str
    booth: str | None
    collector: str
    operators: list[str]
    opened_at: datetime
    closed_at: datetime | None
    state: str
    figures: dict[str, Any]
    findings: list[Finding]
    listings: dict[str, list[dict[str, Any]]]
    counts: Counter[str] = field(default_factory=Counter)  # exits and the rates' numerators, for peers
    quotes: int = 0  # fees re-computed

    @property
    def exceptions(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "exception"]

    def as_json(self) -> dict[str, Any]:
        return {
            "shift": self.shift, "car_park": self.car_park, "booth": self.booth, "collector": self.collector,
            "operators": self.operators, "opened_at": self.opened_at.isoformat(),
            "closed_at": self.closed_at.isoformat() if self.closed_at else None, "state": self.state,
            "exceptions": len(self.exceptions), "figures": self.figures,
            "findings": [f.as_json() for f in self.findings], "listings": self.listings, "counts": dict(self.counts),
        }  # fmt: skip


def _line(row: MoneyRow, **extra: Any) -> dict[str, Any]:
    return {"record": row.record_id, "at": row.at.isoformat(), "lane": row.lane, "operator": row.operator,
            "plate": row.plate, **extra}  # fmt: skip


class _Checker:
    def __init__(self, data: ShiftRecords, settings: ReconcileSettings, now: datetime) -> None:
        self.data, self.settings, self.now = data, settings, now
        self.findings: list[Finding] = []
        self.gapped = any(p.reason == "gap" for p in data.chain)
        self.booth = data.booth_rows
        self.payments = [r for r in self.booth if r.kind == "transaction" and r.event == "payment"]
        self.reversals = [r for r in self.booth if r.kind == "transaction" and r.event == "reversal"]
        reversed_ids = {r.reverses for r in self.reversals}
        self.live = [r for r in self.payments if r.record_id not in reversed_ids]
        self.lane_tx = [r for r in data.lane_rows if r.kind == "transaction"]

    def flag(self, code: str, message: str, *records: str, depends_on_records: bool = False, **detail: Any) -> None:
        severity: Severity = "info" if depends_on_records and self.gapped else "exception"
        if severity == "info":
            message += " (records of the shift are missing: see the gap)"
        self.findings.append(Finding(code, message, severity, tuple(records), detail))

    # ---------------------------------------------------------------------------------------------- cash

    def cash(self) -> dict[str, Any]:
        cash = [r for r in self.payments if r.method == "cash"]
        tendered = sum(r.tendered or 0 for r in cash)
        change = sum(r.change or 0 for r in cash)
        refunded = sum(r.refunded or 0 for r in self.reversals)
        drops = [r for r in self.booth if r.kind == "shift" and r.event == "cash_drop"]
        dropped = sum(r.amount or 0 for r in drops)
        float_amount = self.data.opened.amount or 0
        expected = float_amount + tendered - change - refunded - dropped
        figures: dict[str, Any] = {
            "currency": self.data.opened.currency, "float": float_amount, "tendered": tendered, "change": change,
            "refunded": refunded, "drops": dropped, "expected": expected,
        }  # fmt: skip
        report = self.data.report
        if report is None:
            return figures
        counted = report.cash.counted_amount
        report_id = self.data.report_row.record_id if self.data.report_row is not None else ""
        figures |= {"edge_expected": report.cash.expected, "counted": counted, "difference": counted - expected}
        if report.cash.expected != expected:
            self.flag("cash.expected_differs", f"the edge expected {report.cash.expected}, central computes {expected}",
                      depends_on_records=True, edge=report.cash.expected, central=expected)  # fmt: skip
        if counted < expected:
            self.flag(
                "cash.shortage",
                f"counted {counted}, expected {expected}: short by {expected - counted}",
                report_id,
                depends_on_records=True,
                shortage=expected - counted,
            )
        elif counted > expected:
            self.flag(
                "cash.surplus",
                f"counted {counted}, expected {expected}: over by {counted - expected}",
                report_id,
                depends_on_records=True,
                surplus=counted - expected,
            )
        journal_bags = sorted((str(r.bag), r.amount or 0) for r in drops)
        report_bags = sorted((b.bag, b.amount) for b in report.cash.drop_bags)
        figures["bags"] = [{"bag": b, "amount": a} for b, a in journal_bags]
        if journal_bags != report_bags:
            self.flag("bags.report_differs", "the cash drops in the journal are not the report's bags",
                      depends_on_records=True, journal=journal_bags, report=report_bags)  # fmt: skip
        return figures

    def methods(self) -> dict[str, Any]:
        totals: dict[str, dict[str, Any]] = {m: {"count": 0, "amount": 0} for m in METHODS}
        for row in self.live:
            line = totals.setdefault(str(row.method), {"count": 0, "amount": 0})
            line["count"] += 1
            line["amount"] += row.amount or 0
        report = self.data.report
        if report is not None:
            for method, line in totals.items():
                edge = report.by_method.get(method)
                edge_line = {"count": edge.count, "amount": edge.amount} if edge else {"count": 0, "amount": 0}
                line["edge"] = edge_line
                if (line["count"], line["amount"]) != (edge_line["count"], edge_line["amount"]):
                    self.flag("payments.method_total_differs", f"{method}: the journal holds {line['count']} for "
                              f"{line['amount']}, the report says {edge_line['count']} for {edge_line['amount']}",
                              depends_on_records=True, method=method)  # fmt: skip
        return totals

    # --------------------------------------------------------------------------------------------- cards

    def cards(self) -> dict[str, Any]:
        issued_entry = [
            r
            for r in self.data.lane_rows
            if r.kind == "session"
            and r.event == "opened"
            and r.session_kind == "temporary"
            and r.card
            and not r.presented_card
        ]
        issued_booth = [r for r in self.booth if r.kind == "shift" and r.event == "card_issued"]
        collected = []
        for row in self.data.lane_rows:
            if row.kind == "session" and row.event == "closed":
                opened = self.data.sessions.get(str(row.session_id))
                if opened is not None and opened.session_kind == "temporary" and opened.card:
                    collected.append(row)
        issued = len(issued_entry) + len(issued_booth)
        figures: dict[str, Any] = {"out_at_open": self.data.cards_out_at_open, "issued": issued,
                                   "collected": len(collected)}  # fmt: skip
        report = self.data.report
        counted = report.cards.collected_counted if report is not None else 0
        if report is not None:
            figures |= {"edge_issued": report.cards.issued, "edge_collected": report.cards.collected,
                        "collected_counted": counted}  # fmt: skip
        available = self.data.cards_out_at_open + issued
        most = max(len(collected), counted)
        if most > available:
            out = self.data.cards_out_at_open
            self.flag("cards.collected_exceeds_issued", f"{most} temporary cards collected, only {available} were out "
                      f"({out} at opening + {issued} issued)", *(r.record_id for r in collected),
                      collected=most, available=available)  # fmt: skip
        elif report is not None and (report.cards.issued, report.cards.collected) != (issued, len(collected)):
            self.flag("cards.count_differs", f"the report counts {report.cards.issued} issued and "
                      f"{report.cards.collected} collected, the journal {issued} and {len(collected)}",
                      depends_on_records=True)  # fmt: skip
        return figures

    # ---------------------------------------------------------------------------------------- openings

    def openings(self) -> dict[str, Any]:
        known = {r.record_id: r for r in (*self.data.lane_rows, *self.booth)}
        justifying = {"transaction", "session", "manual_action"}
        opens = [r for r in self.data.lane_rows if r.kind == "barrier_command" and r.event == "open"]
        unexplained = [r for r in opens if r.for_record not in known or known[r.for_record].kind not in justifying]
        if unexplained:
            self.flag("barrier.opening_unexplained", f"{len(unexplained)} barrier openings name no stored record",
                      *(r.record_id for r in unexplained), depends_on_records=True)  # fmt: skip
        without = [r for r in self.data.lane_rows if r.kind == "abnormal_event" and r.event == "opened_without_command"]
        if without:
            self.flag("barrier.opened_without_record", f"{len(without)} barrier openings without a command or record",
                      *(r.record_id for r in without), lanes=sorted({str(r.lane) for r in without}))  # fmt: skip
        return {"commanded": len(opens), "unexplained": len(unexplained), "without_command": len(without)}

    # -------------------------------------------------------------------------------------- free passes

    def free_passes(self) -> dict[str, Any]:
        """The free and special vehicles the lanes let through by themselves, by list and category, beside the
        report's count (reports from before the count have none: nothing to compare)."""
        journal: dict[str, dict[str, int]] = {}
        for row in self.lane_tx:
            if row.event == "waiver" and row.list_kind in ("free", "special"):
                by_category = journal.setdefault(str(row.list_kind), {})
                by_category[str(row.category)] = by_category.get(str(row.category), 0) + 1
        figures: dict[str, Any] = {"journal": journal}
        report = self.data.report
        if report is not None and "free_passes" in report.model_fields_set:
            figures["edge"] = report.free_passes
            if report.free_passes != journal:
                message = (
                    f"the lanes let through {journal} free and special vehicles, the report counts {report.free_passes}"
                )
                self.flag("free_passes.count_differs", message, depends_on_records=True)
        return figures

    # ------------------------------------------------------------------------------------------ lost card

    def lost_cards(self) -> list[dict[str, Any]]:
        lines = []
        for row in self.live:
            if not row.lost_card:
                continue
            lines.append(_line(row, amount=row.amount, entry_at=row.entry_at.isoformat() if row.entry_at else None))
            if row.entry_at is not None or not row.plate:
                continue
            for entry, closed_at in self.data.entries_by_plate.get(str(row.plate), []):
                if entry.at < row.at and (closed_at is None or closed_at >= row.at):
                    self.flag("lost_card.entry_on_record", f"lost-card fee for {row.plate}, whose entry at "
                              f"{entry.at.isoformat()} is on record (session {entry.session_id})", row.record_id,
                              entry.record_id, session=entry.session_id, entry_at=entry.at.isoformat())  # fmt: skip
                    break
        return lines

    # --------------------------------------------------------------------------------------------- chain

    def chain(self) -> None:
        for problem in self.data.chain:
            if problem.reason == "gap":
                self.flag("chain.gap", f"records missing from the edge's chain: {problem.detail}", seq=problem.seq)
            else:
                self.flag("chain.break", f"seq {problem.seq}: {problem.reason}: {problem.detail}",
                          *((problem.record_id,) if problem.record_id else ()), seq=problem.seq,
                          reason=problem.reason)  # fmt: skip

    # ---------------------------------------------------------------------------------------------- late

    def late(self) -> tuple[list[dict[str, Any]], bool]:
        review = self.data.review
        if review is None:
            return [], False
        rows = [r for r in (*self.booth, *self.data.lane_rows) if r.received_at > review.first_decided_at]
        reopened = any(r.received_at > review.decided_at for r in rows)
        if rows:
            severity_rows = [r.record_id for r in rows]
            message = f"{len(rows)} records arrived after the shift was reviewed"
            if reopened:
                self.flag("records.late", message + ": back to review", *severity_rows)
            else:
                self.findings.append(Finding("records.late", message + " (reviewed since)", "info",
                                             tuple(severity_rows)))  # fmt: skip
        return [_line(r, kind=r.kind, event=r.event, received_at=r.received_at.isoformat()) for r in rows], reopened

    # ---------------------------------------------------------------------------------------------- bags

    def bags(self) -> list[dict[str, Any]]:
        limit = timedelta(hours=self.settings.bag_step_hours)
        out = []
        for drop in (r for r in self.booth if r.kind == "shift" and r.event == "cash_drop"):
            bag = str(drop.bag)
            custody = self.data.bags.get(bag)
            line: dict[str, Any] = {"bag": bag, "declared": drop.amount, "dropped_at": drop.at.isoformat()}
            if custody is not None:
                line |= {"picked_up_at": custody.picked_up_at, "picked_up_by": custody.picked_up_by,
                         "witnessed_by": custody.witnessed_by, "counted_at": custody.counted_at,
                         "counted_by": custody.counted_by, "counted": custody.counted,
                         "deposited_at": custody.deposited_at, "deposited_by": custody.deposited_by,
                         "deposit_slip": custody.deposit_slip}  # fmt: skip
                line = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in line.items()}
            missing, since = "picked_up", drop.at
            if custody is not None and custody.picked_up_at is not None:
                missing, since = "counted", custody.picked_up_at
                if custody.counted_at is not None:
                    missing, since = "deposited", custody.counted_at
                    if custody.counted != drop.amount:
                        self.flag("bag.count_differs", f"bag {bag}: declared {drop.amount}, counted {custody.counted}",
                                  drop.record_id, bag=bag, declared=drop.amount, counted=custody.counted)  # fmt: skip
                    if custody.deposited_at is not None:
                        missing = ""
            line["state"] = {"picked_up": "dropped", "counted": "picked_up", "deposited": "counted"}.get(
                missing, "deposited"
            )
            if missing and self.now - since > limit:
                hours = (self.now - since).total_seconds() / 3600
                self.flag(f"bag.not_{missing}", f"bag {bag} not {missing.replace('_', ' ')} {hours:.0f} h after its "
                          "last step", drop.record_id, bag=bag)  # fmt: skip
            out.append(line)
        return out

    # ------------------------------------------------------------------------------------------- listings

    def counts(self) -> Counter[str]:
        """Exits and the rates' numerators. A booth payment or waiver is the exit's transaction; a manual open at
        the booth is the lane's own ``manual_open`` transaction (the booth's record goes with it)."""
        booth_tx = [r for r in self.booth if r.kind == "transaction" and r.event in ("payment", "waiver")]
        lane_exits = [r for r in self.lane_tx if r.event in EXIT_EVENTS]
        counts: Counter[str] = Counter(exits=len(booth_tx) + len(lane_exits))
        counts["lost_card"] = sum(1 for r in self.live if r.lost_card)
        counts["manual_open"] = sum(1 for r in lane_exits if r.event == "manual_open")
        counts["waiver"] = sum(1 for r in (*booth_tx, *lane_exits) if r.event == "waiver")
        counts["reversal"] = len(self.reversals)
        counts["unpaid"] = sum(1 for r in lane_exits if r.event == "manual_open" and (r.quoted or 0) > 0)
        return counts

    def listings(self) -> dict[str, list[dict[str, Any]]]:
        manual = [r for r in self.booth if r.kind == "manual_action" and r.event == "manual_open"]
        manual += [r for r in self.data.lane_rows if r.kind == "manual_action" and r.event == "manual_open"]
        waivers = [r for r in self.booth if r.kind == "transaction" and r.event == "waiver"]
        waivers += [r for r in self.lane_tx if r.event == "waiver"]
        return {
            "reversals": [_line(r, reverses=r.reverses, amount=r.amount, reason=r.reason) for r in self.reversals],
            "manual_opens": [_line(r, reason=r.reason) for r in manual],
            "waivers": [_line(r, list_kind=r.list_kind, category=r.category, reason=r.reason, due=r.quoted)
                        for r in waivers],
        }  # fmt: skip


def shift_state(data: ShiftRecords, reopened: bool) -> str:
    """awaiting_report, to_review, flagged or signed_off (late records send a decided shift back to review)."""
    if data.report is None:
        return "awaiting_report"
    if data.review is None or reopened:
        return "to_review"
    return data.review.state


def reconcile_shift(data: ShiftRecords, settings: ReconcileSettings, now: datetime) -> ShiftResult:
    """Reconcile one shift from what central received (pure)."""
    check = _Checker(data, settings, now)
    check.chain()
    if data.report_problem is not None:
        check.flag("report.invalid", f"the shift's closing report does not validate: {data.report_problem}")
    figures: dict[str, Any] = {"cash": check.cash(), "by_method": check.methods(), "cards": check.cards(),
                               "openings": check.openings(), "free_passes": check.free_passes()}  # fmt: skip
    listings = check.listings()
    listings["lost_cards"] = check.lost_cards()
    rechecked, differences, quotes = recheck_fees(data, check.payments, check.lane_tx)
    for finding in differences:
        check.findings.append(finding)
    figures["fee_recheck"] = rechecked
    listings["bags"] = check.bags()
    listings["late"], reopened = check.late()
    return ShiftResult(
        shift=data.shift, car_park=data.car_park, booth=data.opened.booth, collector=str(data.opened.operator),
        operators=sorted(data.operators), opened_at=data.opened_at, closed_at=data.closed_at,
        state=shift_state(data, reopened), figures=figures, findings=check.findings, listings=listings,
        counts=check.counts(), quotes=quotes,
    )  # fmt: skip
