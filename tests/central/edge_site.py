"""A car park's edge made of the real edge code — entry and exit lanes, the booth's shifts, the SQLite journal, the
tariff engine — driven step by step with an injected clock, and its journal pushed to central over the wire contract.

What the booth desk does in the daemon (:class:`edge.booth.desk.BoothDesk`) is done here the same way: the shift makes
the record, the exit lane commits it with the barrier command, and what the lanes did by themselves is told to the
shift by the desk's own :class:`edge.booth.observers.LaneObservations` (committed records, and the lanes' typed
``Released`` and ``Passed`` actions), as the daemon's runner tells it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from edge.booth.booth import Booth
from edge.booth.observers import LaneObservations, LaneWatch, line_label
from edge.booth.operators import SupervisorApproval
from edge.booth.payment import Method
from edge.booth.records import BoothRecord, PaymentTaken
from edge.booth.shift import Shift
from edge.lanes.actions import Commit, LaneAction, Passed, Released
from edge.lanes.directory import Directory
from edge.lanes.entry import EntryLane
from edge.lanes.events import (
    BarrierPosition,
    BarrierReport,
    CardDispensed,
    LaneEvent,
    Loop,
    LoopChanged,
    LostCard,
    PlateSeen,
    Tick,
)
from edge.lanes.exit import BoothManualOpen, BoothPayment, ExitLane
from edge.lanes.fees import FeeQuote, FeeQuoter, TariffFees
from edge.lanes.lane import DirectoryHolder, Lane, LaneContext, LaneSettings, Phase
from edge.lanes.park import ParkState
from edge.store.journal import Journal
from edge.store.tariff_versions import tariff_version_drafts
from parking.tariff import Coupon
from parking.wire import INGEST_PATH, IngestAck, IngestBatch, VehicleEntry
from tests.central.scenario import Site, ok

REPO = Path(__file__).resolve().parents[2]
TARIFF = REPO / "config" / "tariffs" / "residential.toml"
T0 = datetime(2026, 11, 27, 0, 30, tzinfo=UTC)  # 08:30 in Shanghai
DAY = "2026-11-27"
DENOMINATIONS = (10000, 5000, 2000, 1000, 500, 100, 50, 10)
FLOAT = {10000: 2, 5000: 2, 2000: 5, 1000: 5, 500: 6, 100: 15, 50: 8, 10: 10}  # 500.00


def counts_of(amount: int) -> dict[int, int]:
    """Notes and coins that make ``amount`` (largest first)."""
    counts: dict[int, int] = {}
    for denomination in DENOMINATIONS:
        counts[denomination], amount = divmod(amount, denomination)
    assert amount == 0
    return counts


class CutRateFees:
    """An edge whose fee code was tampered with: it charges 3.00 less than the tariff whenever it can, while still
    naming the real tariff's hash (a record chain that holds, so only central's re-check can see it)."""

    def __init__(self, real: TariffFees) -> None:
        self.real = real

    def quote(
        self, tariff: str, entry: datetime | None, exit: datetime, vehicle_class: str, *, lost_card: bool = False,
        paid: int = 0, paid_at: datetime | None = None, coupons: Sequence[Coupon] = (),
    ) -> FeeQuote:  # fmt: skip
        quote = self.real.quote(tariff, entry, exit, vehicle_class, lost_card=lost_card, paid=paid, paid_at=paid_at,
                                coupons=coupons)  # fmt: skip
        return replace(quote, total=quote.total - 300) if quote.total > 300 else quote

    def max_stay(self, tariff: str) -> timedelta | None:
        return self.real.max_stay(tariff)


class BoothObservations(LaneObservations):
    """The booth desk's observers over its lanes (one staffed exit lane), without the desk's screens."""

    def __init__(self, booth: Booth, clock: Callable[[], datetime], currency: str, *, exit_lane: str) -> None:
        self.booth, self.clock, self.currency = booth, clock, currency
        self.staffed = [exit_lane]
        self.watches = {lane: LaneWatch() for lane in (booth.lanes or ("in-1", exit_lane))}
        self.entry_images: dict[str, str] = {}
        self.lane_alerts: list[dict[str, Any]] = []

    def changed(self) -> None:
        """Nothing to redraw here."""


class EdgeSite:
    """One edge: lanes ``in-1`` (entry) and ``out-1`` (attended exit), booth ``B1``, a journal file.

    ``two_booths``: a second attended exit ``out-2`` staffed by booth ``B2`` (``B1`` staffs ``in-1`` and ``out-1``),
    each booth stating its lanes as the daemon's do; :meth:`at_booth` says which booth the next steps are at."""

    def __init__(self, folder: Path, site: Site, *, start: datetime = T0, dispenser: bool = False,
                 cut_rate: bool = False, send_tariffs: bool = True, two_booths: bool = False,
                 vehicles: Sequence[VehicleEntry] = ()) -> None:  # fmt: skip
        self.site = site
        self.now = start
        self.journal = Journal(folder / "journal.sqlite3", site.car_park, synchronous="NORMAL")
        real = TariffFees({"residential": TARIFF})
        fees: FeeQuoter = CutRateFees(real) if cut_rate else real
        context = LaneContext(
            ParkState({"small": 200, "large": 20}), DirectoryHolder(Directory(site.car_park, vehicles=vehicles))
        )
        self.entry = EntryLane(LaneSettings(id="in-1", car_park=site.car_park, has_dispenser=dispenser,
                                            ticketless=not dispenser), context)  # fmt: skip
        self.exit = ExitLane(LaneSettings(id="out-1", car_park=site.car_park, tariff="residential"), context, fees)
        for lane in (self.entry, self.exit):  # the I/O modules' first poll: where each barrier stands
            lane.handle(BarrierReport(BarrierPosition.CLOSED), self.now)
        self.booth = Booth("B1", site.car_park, clock=lambda: self.now, lanes=("in-1", "out-1") if two_booths else ())
        ids = {t.content_hash: t.id for t in real.tariffs.values()}
        if send_tariffs:  # as the daemon does at start
            self.journal.commit(tariff_version_drafts(self.journal, real.texts, ids, self.now))
        self.observations = BoothObservations(self.booth, lambda: self.now, "CNY", exit_lane="out-1")
        self.booths = {"B1": (self.booth, self.observations, self.exit)}
        if two_booths:
            west = ExitLane(LaneSettings(id="out-2", car_park=site.car_park, tariff="residential"), context, fees)
            west.handle(BarrierReport(BarrierPosition.CLOSED), self.now)
            booth = Booth("B2", site.car_park, clock=lambda: self.now, lanes=("out-2",))
            self.booths["B2"] = (booth, BoothObservations(booth, lambda: self.now, "CNY", exit_lane="out-2"), west)
        self.seen_plate: str | None = None  # the last plate the exit camera saw (the booth screen shows it)
        self.cards = 0
        self.pushed = 0

    # ------------------------------------------------------------------------------------------ the lanes

    def at_booth(self, booth: str) -> None:
        """The next booth steps (shift, payments) at ``booth``, and vehicles leave by its exit."""
        self.booth, self.observations, self.exit = self.booths[booth]

    def _observers(self, lane: str) -> list[BoothObservations]:
        return [o for _, o, _ in self.booths.values() if lane in o.watches]

    def tick(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now

    @property
    def shift(self) -> Shift:
        shift = self.booth.current
        assert shift is not None
        return shift

    def feed(self, lane: Lane, *events: LaneEvent, step: float = 0.2) -> list[LaneAction]:
        out: list[LaneAction] = []
        for event in events:
            if isinstance(event, PlateSeen) and lane is self.exit:
                self.seen_plate = event.plate
            actions = lane.handle(event, self.tick(step))
            for action in actions:
                if isinstance(action, Commit):
                    self.journal.commit(action.drafts)
                    for _, observations, _ in self.booths.values():  # each booth keeps what is its lanes'
                        observations.committed(action.drafts)
                elif isinstance(action, Released):
                    for observations in self._observers(lane.id):
                        observations.released(lane.id, action)
                elif isinstance(action, Passed):
                    for observations in self._observers(lane.id):
                        observations.passed(lane.id, action.session)
            out += actions
        return out

    def cross(self, lane: Lane) -> None:
        self.feed(lane, BarrierReport(BarrierPosition.OPEN), LoopChanged(Loop.SAFETY, True),
                  LoopChanged(Loop.ARMING, False), LoopChanged(Loop.SAFETY, False),
                  BarrierReport(BarrierPosition.CLOSED))  # fmt: skip
        assert lane.phase is Phase.IDLE

    def enter(self, plate: str, image: str | None = None) -> None:
        """A vehicle enters; ``image``: the name of the camera's picture in the journal's image folder."""
        self.feed(self.entry, LoopChanged(Loop.ARMING, True), PlateSeen(plate, 0.95, "blue", image=image))
        if self.entry.phase is Phase.DISPENSING:
            self.cards += 1
            self.feed(self.entry, CardDispensed(f"T{self.cards:04d}"))
        assert self.entry.phase is Phase.PASSING, self.entry.phase
        self.cross(self.entry)

    def arrive_at_exit(self, plate: str | None, confidence: float = 0.95) -> None:
        events: list[LaneEvent] = [LoopChanged(Loop.ARMING, True)]
        if plate is not None:
            events.append(PlateSeen(plate, confidence, "blue"))
        self.feed(self.exit, *events)
        if self.exit.phase is Phase.COLLECTING:  # no usable read: the read window runs out
            self.feed(self.exit, Tick(), step=5)

    def leave_free(self, plate: str) -> None:
        """A vehicle that owes nothing (free period): the lane releases it by itself."""
        self.arrive_at_exit(plate)
        assert self.exit.phase is Phase.PASSING, self.exit.phase
        self.cross(self.exit)

    # ------------------------------------------------------------------------------------------- the booth

    def commit_booth(self, records: Sequence[BoothRecord]) -> None:
        self.journal.commit([r.draft() for r in records])

    def open_shift(self, operator: str = "c01", float_counts: Mapping[int, int] = FLOAT) -> Shift:
        shift = self.booth.begin_shift(operator)
        previous = shift.previous_handover is not None
        self.commit_booth([shift.open(operator=operator, float_counts=float_counts, cards_stock=100,
                                      acknowledge_handover=previous)])  # fmt: skip
        return shift

    def pay(self, operator: str, method: Method = "cash", tendered: int | None = None) -> PaymentTaken:
        """As ``BoothDesk.take_payment``: the shift's record, committed by the exit lane with the opening."""
        lane = self.exit
        assert lane.phase is Phase.WAITING, lane.phase
        assert lane.due is not None
        quote, session = lane.due.quote, lane.due.session
        identity = lane.identity
        plate = (session.plate if session else None) or (identity.plate if identity else None) or self.seen_plate
        vehicle_class = session.vehicle_class if session else (identity.vehicle_class if identity else "small")
        record = self.shift.take_payment(
            operator=operator, lane=lane.id, amount=quote.total, method=method, tendered=tendered,
            reference="WX0001" if method == "epay" else None, vehicle_class=vehicle_class, plate=plate,
            session=session.id if session else None, lost_card=lane.due.lost_card,
            entry_at=session.entry_at if session else None, tariff_id=quote.tariff_id or None,
            lines=[(line_label(x, quote.currency), int(x.get("amount", 0))) for x in quote.lines],
            tariff_hash=quote.tariff_hash or None, quoted_at=quote.quoted_at,
        )  # fmt: skip
        actions = self.feed(lane, BoothPayment(operator, f"paid at booth ({method})", record.amount, method,
                                               record=record.draft()))  # fmt: skip
        assert any(d.id == record.id for a in actions if isinstance(a, Commit) for d in a.drafts)
        self.observations.watches[lane.id].pending_payment = record.id  # as the desk does after a payment
        self.cross(lane)
        return record

    def leave_paying(self, plate: str, operator: str = "c01", method: Method = "cash",
                     tendered: int | None = None) -> PaymentTaken:  # fmt: skip
        self.arrive_at_exit(plate)
        return self.pay(operator, method, tendered)

    def leave_with_lost_card(self, seen: str, operator: str = "c01") -> PaymentTaken:
        """The camera's read is too weak for the lane; the driver says the card is lost: the flat fee."""
        self.arrive_at_exit(seen, confidence=0.4)
        self.feed(self.exit, LostCard(operator, "driver lost the temporary card"))
        assert self.exit.due is not None
        assert self.exit.due.lost_card
        return self.pay(operator, "cash", self.exit.due.quote.total)

    def manual_open(self, operator: str, reason: str = "车牌无法识别, 核实后放行", evidence: str | None = None) -> None:
        """A vehicle the lane cannot identify, let out by the collector's hand (as ``BoothDesk.manual_open``);
        ``evidence``: the name of the booth camera's picture in the journal's image folder."""
        self.arrive_at_exit(None)
        assert self.exit.phase is Phase.WAITING
        record = self.shift.manual_open(operator=operator, lane=self.exit.id, reason=reason, vehicle_class="small",
                                        evidence=evidence)  # fmt: skip
        self.feed(self.exit, BoothManualOpen(operator, reason, evidence, record=record.draft()))
        self.cross(self.exit)

    def barrier_lifted_by_hand(self) -> None:
        """The barrier goes up with no command (lifted by hand, power cut) and comes down again."""
        self.feed(self.exit, BarrierReport(BarrierPosition.OPEN), BarrierReport(BarrierPosition.CLOSED))

    def drop(self, operator: str, bag: str, amount: int) -> None:
        self.commit_booth([self.shift.drop_cash(operator=operator, bag=bag, counts=counts_of(amount), witness="s01")])

    def close(self, operator: str = "c01", *, short: int = 0, cards_collected: int | None = None) -> Shift:
        shift = self.shift
        expected = shift.expected_cash()
        collected = shift.tally.cards_collected if cards_collected is None else cards_collected
        issued = sum(shift.tally.cards_issued.values())
        on_hand = 100 - issued + shift.tally.cards_collected
        self.commit_booth(shift.close(operator=operator, cash_counts=counts_of(expected - short), cards_on_hand=on_hand,
                                      cards_collected=collected, handover_note="交接正常"))  # fmt: skip
        return shift

    def recount(self, shift: Shift, supervisor: str = "s01") -> None:
        """A supervisor reopens the closed report at the booth; the collector counts again (a new revision)."""
        approval = SupervisorApproval(supervisor, "reopen_shift_report", shift.operator, self.tick(1))
        self.commit_booth([shift.reopen_report(approval, reason="recount after the outage")])
        expected = shift.expected_cash()
        self.commit_booth(shift.close(operator=shift.operator, cash_counts=counts_of(expected),
                                      cards_on_hand=100, cards_collected=0, handover_note="复点"))  # fmt: skip

    # ------------------------------------------------------------------------------------------- the wire

    def tamper(self, sql: str, *params: Any) -> None:
        """Change the journal file behind the edge's back (as someone with the booth PC's disk would)."""
        with sqlite3.connect(self.journal.path) as db:
            db.execute(sql, params)

    def push(self, client: TestClient) -> IngestAck:
        """Send central every record not sent yet, in chain order, as the outbox does."""
        records = self.journal.records(self.pushed, 5000)
        batch = IngestBatch(edge_id=self.site.edge, records=records)
        answer = client.post(INGEST_PATH, content=batch.model_dump_json(), headers=self.site.json_headers)
        ack = IngestAck.model_validate(ok(answer))
        self.journal.mark_sent([*ack.accepted, *ack.duplicates], ack.rejected)  # as the outbox does
        self.pushed = records[-1].seq if records else self.pushed
        return ack
