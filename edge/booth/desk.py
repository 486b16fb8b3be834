"""The booth desk: where the console's operator actions meet the booth's shift, the lanes and the journal.

An action on a vehicle (cash, e-payment, free or special, manual open) makes the shift's record first
(:mod:`edge.booth.shift` checks the shift and the input), then hands it to the exit lane inside the lane's command
(:class:`~edge.lanes.exit.BoothPayment`, ...): the lane commits *that* record with the barrier command and the session's
closing, so a payment is one TRANSACTION record carrying the shift, method, tender and change. If the lane does not
take it (the vehicle left, the fee changed, the journal failed) the record is withdrawn from the shift and the
operator is told: the shift's figures never hold what the journal does not.

What the lanes do by themselves (a pass holder leaving, barrier cycles, abnormal events) reaches the shift through
:class:`ObservedWriter`, which tells the desk every batch of records once it is committed; what the devices saw
(plate reads with their images, loops, barrier) reaches :meth:`BoothDesk.lane_event` from the daemon.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from drivers.escpos.errors import EscPosError
from drivers.health import Health
from edge.booth.alert_desk import AlertDesk
from edge.booth.alerts import load_alerts
from edge.booth.booth import Booth
from edge.booth.errors import DeskError as DeskError
from edge.booth.observers import LaneObservations, LaneWatch
from edge.booth.observers import ObservedWriter as ObservedWriter
from edge.booth.observers import line_label as line_label
from edge.booth.operators import Operator, OperatorStore, SupervisorApproval
from edge.booth.payment import Method, ShiftError
from edge.booth.ports import BoothJournal, LaneControl
from edge.booth.records import BoothRecord, PaymentTaken
from edge.booth.shift import Clock, Shift, ShiftState
from edge.lanes.actions import Commit, Draft, LaneAction
from edge.lanes.events import ApplyCoupon, AttachEntry, LaneEvent, LostCard, ManualOpen, Refuse, ResetAntiPassback
from edge.lanes.exit import BoothManualOpen, BoothPayment, BoothWaiver, ExitLane
from edge.lanes.lane import Phase
from edge.lanes.park import Session
from edge.store.journal import JournalError
from parking.ids import new_id
from parking.tariff import Coupon, CouponError
from parking.wire import RecordKind

_LOGGER = logging.getLogger(__name__)
# Where the request being served came from (the console sets it per request): sign-ins and supervisor approvals
# are counted against it.
CONSOLE_SOURCE: ContextVar[str] = ContextVar("console_source", default="local")


def operators_path(journal_path: Path) -> Path:
    """The booth operators' SQLite file, beside the journal."""
    return journal_path.parent / "operators.sqlite3"


@dataclass
class BoothDesk(LaneObservations, AlertDesk):
    """The booth console's side of the edge, built from narrow ports (:mod:`edge.booth.ports`): the lanes it may
    drive, the journal queries it needs, its booth, operators, receipt printers (lane id -> printer) and clock."""

    lanes: LaneControl
    journal: BoothJournal
    booth: Booth
    operators: OperatorStore
    clock: Clock
    printers: dict[str, Any] = field(default_factory=dict)
    image_roots: list[Path] = field(default_factory=list)  # where the console may serve images from
    car_park_name: str = ""
    version: int = 0
    watches: dict[str, LaneWatch] = field(default_factory=dict)
    entry_images: dict[str, str] = field(default_factory=dict)  # session id -> entry image reference
    security_alerts: list[dict[str, Any]] = field(default_factory=list)  # the latest, shown at the booth
    lane_alerts: list[dict[str, Any]] = field(default_factory=list)  # the booth's alerts (edge.booth.alerts)
    device_states: dict[str, Health] = field(default_factory=dict)  # each device's last health told
    alerts_file: Path | None = None  # where the alert list is kept across restarts (None: in memory only)

    def __post_init__(self) -> None:
        self.booth_id = self.booth.id
        self.zone = self.booth.zone
        self.currency = self.booth.currency
        # PINs are checked in a worker thread (argon2 takes tens of milliseconds the lanes must not wait for)
        self._pins = asyncio.Lock()
        lane_ids = self.lanes.lane_ids()
        self.staffed = [lane_id for lane_id in lane_ids if isinstance(self.lanes.lane(lane_id), ExitLane)]
        self.watches = {lane_id: LaneWatch() for lane_id in lane_ids}
        self._lock = asyncio.Lock()
        self._tick = asyncio.Event()
        self._printing: set[asyncio.Task[None]] = set()
        self.restore()

    # ------------------------------------------------------------------------------------------- restore

    def restore(self) -> None:
        """Rebuild the booth's shifts from the journal, and the entry pictures of the vehicles still inside."""
        self.booth.restore(self.journal.booth_payloads(self.booth_id))
        self.entry_images.update(self.journal.entry_images(list(self.lanes.park.sessions)))
        if self.alerts_file is not None:
            self.lane_alerts[:0] = load_alerts(self.alerts_file)
        self._alerts_seen = self._alerts_mark()

    # ---------------------------------------------------------------------------------------- live state

    @property
    def shift(self) -> Shift | None:
        """The shift the console works on: the booth's current one, or a closed one a supervisor reopened."""
        current = self.booth.current
        if current is not None:
            return current
        last = self.booth.shifts[-1] if self.booth.shifts else None
        return last if last is not None and last.reopened else None

    def _open_shift(self) -> Shift:
        shift = self.booth.current
        if shift is None or shift.state is not ShiftState.OPEN:
            raise DeskError("shift.not_open", "open a shift first")
        return shift

    def changed(self) -> None:
        """Something the screens show changed: wake the live streams (and keep the alert list if it changed)."""
        self._keep_alerts()
        self.version += 1
        tick, self._tick = self._tick, asyncio.Event()
        tick.set()

    async def wait_change(self, seen: int, within: float) -> int:
        """Wait until :attr:`version` moves past ``seen`` (or ``within`` seconds); answers the version."""
        if self.version == seen:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(within):
                    await self._tick.wait()
        return self.version

    # ------------------------------------------------------------------------------------- sign-in, shift

    async def sign_in(self, operator: str, pin: str, source: str | None = None) -> Operator:
        """Check an operator's PIN (counted against ``source``, the client's address); a source going over its
        limit is shown at the booth and journaled as a ``security_alert`` for central."""
        async with self._pins:
            try:
                return await asyncio.to_thread(self.operators.sign_in, operator, pin, booth=self.booth_id,
                                               source=source or CONSOLE_SOURCE.get())  # fmt: skip
            finally:
                await self._raise_alerts()

    async def _raise_alerts(self) -> None:
        for alert in self.operators.take_alerts():
            _LOGGER.warning("booth %s: %d failed sign-ins from %s within %d s: refused for now", alert.booth,
                            alert.failures, alert.source, alert.window_s)  # fmt: skip
            view = {"event": "sign_in_flood", "at": alert.at.isoformat(), "source": alert.source,
                    "booth": alert.booth, "failures": alert.failures, "window_s": alert.window_s,
                    "last_operator": alert.last_operator}  # fmt: skip
            self.security_alerts.append(view)
            del self.security_alerts[:-20]
            draft = Draft(id=new_id(), kind=RecordKind.SECURITY_ALERT, lane=None, at=alert.at, payload=view)
            try:
                await self.lanes.commit([draft])
            except JournalError:
                _LOGGER.exception("booth %s: the security alert could not be journaled", alert.booth)
            self.changed()

    async def approve(self, supervisor: str, pin: str, action: str, requested_by: str) -> SupervisorApproval:
        """A supervisor's PIN for one supervisor-only action."""
        async with self._pins:
            try:
                return await asyncio.to_thread(
                    self.operators.approve, supervisor, pin, action=action, requested_by=requested_by,
                    booth=self.booth_id, source=CONSOLE_SOURCE.get(),
                )  # fmt: skip
            finally:
                await self._raise_alerts()

    async def _commit(self, records: Sequence[BoothRecord]) -> None:
        try:
            await self.lanes.commit([r.draft() for r in records])
        except JournalError as err:
            raise DeskError("journal.failed", str(err), 503) from err
        self.changed()

    async def open_shift(
        self, operator: str, float_counts: Mapping[int, int], cards_stock: int, acknowledge_handover: bool
    ) -> Shift:
        async with self._lock:
            if self.shift is not None and self.shift.reopened:
                raise DeskError("shift.report_reopened", "a reopened shift report waits for its recount")
            shift = self.booth.current
            if shift is None:
                shift = self.booth.begin_shift(operator)
            elif shift.state is not ShiftState.OPENING:
                raise DeskError("shift.already_open", f"shift of {shift.operator} is {shift.state.value}")
            try:
                record = shift.open(operator=operator, float_counts=float_counts, cards_stock=cards_stock,
                                    acknowledge_handover=acknowledge_handover)  # fmt: skip
            except ShiftError:
                self.booth.abandon_opening(shift)
                raise
            await self._commit([record])
            return shift

    async def drop_cash(self, operator: str, bag: str, counts: Mapping[int, int], witness: str | None) -> BoothRecord:
        async with self._lock:
            record = self._open_shift().drop_cash(operator=operator, bag=bag, counts=counts, witness=witness)
            await self._commit([record])
            return record

    async def close_shift(
        self, operator: str, counts: Mapping[int, int], cards_on_hand: int, cards_collected: int, note: str
    ) -> Shift:
        async with self._lock:
            shift = self.shift
            if shift is None:
                raise DeskError("shift.not_open", "no shift to close")
            pending = [w for w in self.watches.values() if w.pending_payment]
            if pending:
                raise DeskError("shift.vehicle_in_lane", "a paid vehicle is still in the lane")
            records = shift.close(operator=operator, cash_counts=counts, cards_on_hand=cards_on_hand,
                                  cards_collected=cards_collected, handover_note=note)  # fmt: skip
            await self._commit(records)
            return shift

    async def reopen_report(self, operator: str, supervisor: str, pin: str, reason: str) -> Shift:
        async with self._lock:
            closed = self.booth.last_closed
            if closed is None or closed.state is not ShiftState.CLOSED or self.shift is not None:
                raise DeskError("reopen.nothing_closed", "there is no closed shift report to reopen")
            approval = await self.approve(supervisor, pin, "reopen_shift_report", operator)
            record = closed.reopen_report(approval, reason=reason)
            await self._commit([record])
            return closed

    async def reverse_payment(self, operator: str, payment_id: str, reason: str) -> BoothRecord:
        async with self._lock:
            record = self._open_shift().reverse_payment(payment_id, operator=operator, reason=reason)
            await self._commit([record])
            for watch in self.watches.values():
                if watch.pending_payment == payment_id:
                    watch.pending_payment = None
            return record

    # ---------------------------------------------------------------------------------------- the printer

    def printer(self, lane_id: str | None = None) -> Any | None:
        """The receipt printer of ``lane_id``, or (no lane, or a lane without one) the first staffed lane's."""
        if lane_id is not None and lane_id in self.printers:
            return self.printers[lane_id]
        return next((self.printers[lane] for lane in self.staffed if lane in self.printers), None)

    async def print_job(self, printer: Any, data: bytes, what: str) -> None:
        """Send one job to the printer in its own task (a lane or a shift never waits on paper); a printer that
        does not take it raises :class:`DeskError` ``printer.failed`` (its health shows it too). Nothing stored
        depends on the printout: the PDF stays available."""
        task = asyncio.ensure_future(printer.print_job(data))
        self._printing.add(task)
        task.add_done_callback(self._printing.discard)
        try:
            await asyncio.shield(task)
        except EscPosError as err:
            _LOGGER.warning("%s not printed on %s: %s", what, printer.name, err)
            raise DeskError("printer.failed", f"the {what} was not printed on {printer.name}: {err}", 503) from err

    def print_later(self, printer: Any, data: bytes, what: str) -> None:
        """Print without waiting for the printer (after a shift closes); a failure is logged and in the health."""

        async def run() -> None:
            with contextlib.suppress(DeskError):
                await self.print_job(printer, data, what)

        task = asyncio.ensure_future(run())
        self._printing.add(task)
        task.add_done_callback(self._printing.discard)

    # ------------------------------------------------------------------------------------------ the lanes

    def exit_lane(self, lane_id: str) -> ExitLane:
        lane = self.lanes.lane(lane_id)
        if lane is None:
            raise DeskError("lane.unknown", f"no lane {lane_id!r}", 404)
        if not isinstance(lane, ExitLane):
            raise DeskError("lane.not_exit", f"lane {lane_id} is not an exit lane")
        return lane

    def _waiting(self, lane: ExitLane, *, due: bool) -> None:
        if lane.phase is not Phase.WAITING:
            raise DeskError("lane.no_vehicle_waiting", f"no vehicle is waiting in lane {lane.id}")
        if due and lane.due is None:
            raise DeskError("lane.nothing_due", f"no fee is quoted in lane {lane.id}: search the entry first")

    async def _feed(self, lane_id: str, event: LaneEvent) -> list[LaneAction]:
        if self.lanes.lane(lane_id) is None:
            raise DeskError("lane.unknown", f"no lane {lane_id!r}", 404)
        stopped = self.lanes.out_of_service(lane_id)
        if stopped is not None:
            raise DeskError("lane.out_of_service", stopped, 503)
        actions = await self.lanes.feed(lane_id, event)
        self.changed()
        return actions

    async def _through_lane(self, shift: Shift, record: BoothRecord, event: LaneEvent) -> None:
        """Give the lane the booth's record; withdraw it from the shift if the lane did not commit it."""
        try:
            actions = await self._feed(str(record.lane), event)
        except DeskError:  # the lane is unknown or out of service: it never saw the record
            shift.withdraw(record)
            self.changed()
            raise
        committed = any(d.id == record.id for a in actions if isinstance(a, Commit) for d in a.drafts)
        lane_ok = self.lanes.out_of_service(str(record.lane)) is None
        if not (committed and lane_ok):
            shift.withdraw(record)
            self.changed()
            raise DeskError("lane.refused", f"lane {record.lane} did not take the {record.kind.value}: nothing stored")

    def _vehicle(self, lane: ExitLane) -> tuple[Session | None, str | None, str]:
        session = lane.due.session if lane.due else lane.session
        identity = lane.identity
        plate = (
            (session.plate if session else None)
            or (identity.plate if identity else None)
            or self.watches[lane.id].plate
        )
        vehicle_class = session.vehicle_class if session else (identity.vehicle_class if identity else "small")
        return session, plate, vehicle_class

    async def take_payment(
        self, lane_id: str, operator: str, method: Method, *, tendered: int | None = None, reference: str | None = None
    ) -> PaymentTaken:
        async with self._lock:
            lane = self.exit_lane(lane_id)
            self._waiting(lane, due=True)
            assert lane.due is not None
            shift = self._open_shift()
            quote = lane.due.quote
            session, plate, vehicle_class = self._vehicle(lane)
            record = shift.take_payment(
                operator=operator, lane=lane_id, amount=quote.total, method=method, tendered=tendered,
                reference=reference, vehicle_class=vehicle_class, plate=plate, session=session.id if session else None,
                lost_card=lane.due.lost_card, entry_at=session.entry_at if session else None,
                tariff_id=quote.tariff_id or None, lines=[(line_label(x, quote.currency), int(x.get("amount", 0)))
                                                          for x in quote.lines],
                tariff_hash=quote.tariff_hash or None, quoted_at=quote.quoted_at,
                coupons=[{"minutes": c.minutes, "amount": c.amount, "code": c.code} for c in quote.coupons],
            )  # fmt: skip
            event = BoothPayment(operator, f"paid at booth ({method})", record.amount, method, record=record.draft())
            await self._through_lane(shift, record, event)
            self.watches[lane_id].pending_payment = record.id
            return record

    async def waive(
        self, lane_id: str, operator: str, list_kind: Literal["free", "special"], category: str, reason: str, note: str
    ) -> BoothRecord:
        async with self._lock:
            lane = self.exit_lane(lane_id)
            self._waiting(lane, due=False)
            shift = self._open_shift()
            session, plate, vehicle_class = self._vehicle(lane)
            record = shift.waive_fee(
                operator=operator, lane=lane_id, list_kind=list_kind, category=category, reason=reason, note=note,
                due=lane.due.quote.total if lane.due else 0, vehicle_class=vehicle_class, plate=plate,
                session=session.id if session else None, evidence=self.watches[lane_id].image or lane.evidence_image(),
            )  # fmt: skip
            event = BoothWaiver(operator, reason, category=category, record=record.draft())
            await self._through_lane(shift, record, event)
            return record

    async def manual_open(self, lane_id: str, operator: str, reason: str) -> BoothRecord | None:
        async with self._lock:
            if not reason.strip():
                raise DeskError("manual_open.reason_required", "a manual open needs a reason", 422)
            lane = self.lanes.lane(lane_id)
            if lane is None:
                raise DeskError("lane.unknown", f"no lane {lane_id!r}", 404)
            if lane.phase is Phase.PASSING:
                raise DeskError("lane.passing", f"the barrier of lane {lane_id} is open for a vehicle already")
            evidence = self.watches[lane_id].image or lane.evidence_image()
            if not isinstance(lane, ExitLane):  # an entry lane: its own manual record names the operator
                await self._feed(lane_id, ManualOpen(operator, reason, evidence=evidence))
                return None
            shift = self._open_shift()
            _, plate, vehicle_class = self._vehicle(lane)
            record = shift.manual_open(operator=operator, lane=lane_id, reason=reason, plate=plate,
                                       vehicle_class=vehicle_class, evidence=evidence)  # fmt: skip
            await self._through_lane(shift, record, BoothManualOpen(operator, reason, evidence, record=record.draft()))
            return record

    async def lost_card(self, lane_id: str, operator: str) -> None:
        async with self._lock:
            lane = self.exit_lane(lane_id)
            self._waiting(lane, due=False)
            self._open_shift()
            await self._feed(lane_id, LostCard(operator, "driver lost the temporary card"))
            if lane.due is None or not lane.due.lost_card:
                raise DeskError("lane.refused", f"lane {lane_id} did not quote the lost-card fee")

    async def apply_coupon(self, lane_id: str, operator: str, coupon: str, reason: str) -> None:
        """A coupon or validation the driver hands over (``30min``, ``2h`` free or ``5.00`` off): journaled with the
        operator, and the lane quotes the fee again with it."""
        async with self._lock:
            lane = self.exit_lane(lane_id)
            self._waiting(lane, due=True)
            self._open_shift()
            try:
                parsed = Coupon.parse(coupon, self.currency)
            except CouponError as err:
                raise DeskError("coupon.invalid", str(err), 422) from None
            before = len(lane.coupons)
            why = reason.strip() or f"coupon {parsed.code}"
            await self._feed(lane_id, ApplyCoupon(operator, why, parsed.minutes, parsed.amount, parsed.code))
            if len(lane.coupons) == before and lane.phase is Phase.WAITING:
                raise DeskError("lane.refused", f"lane {lane_id} did not take the coupon")

    async def attach_entry(self, lane_id: str, operator: str, session_id: str) -> None:
        async with self._lock:
            lane = self.exit_lane(lane_id)
            self._waiting(lane, due=False)
            if session_id not in self.lanes.park.sessions:
                raise DeskError("search.unknown_session", f"no vehicle inside with session {session_id}", 404)
            await self._feed(lane_id, AttachEntry(operator, "entry found by search", session_id))
            if lane.due is None or lane.due.session is None or lane.due.session.id != session_id:
                raise DeskError("lane.refused", f"lane {lane_id} did not take the entry")

    async def refuse(self, lane_id: str, operator: str, reason: str) -> None:
        async with self._lock:
            lane = self.lanes.lane(lane_id)
            if lane is None:
                raise DeskError("lane.unknown", f"no lane {lane_id!r}", 404)
            if lane.phase in (Phase.IDLE, Phase.PASSING):
                raise DeskError("lane.no_vehicle_waiting", f"no vehicle is waiting in lane {lane_id}")
            await self._feed(lane_id, Refuse(operator, reason or "refused at the booth"))

    async def reset_anti_passback(self, lane_id: str, operator: str, supervisor: str, pin: str, reason: str) -> None:
        async with self._lock:
            lane = self.lanes.lane(lane_id)
            if lane is None:
                raise DeskError("lane.unknown", f"no lane {lane_id!r}", 404)
            approval = await self.approve(supervisor, pin, "reset_anti_passback", operator)
            why = f"{reason or 'anti-passback reset'} (approved by supervisor {approval.supervisor})"
            before = lane.phase
            await self._feed(lane_id, ResetAntiPassback(operator, why))
            if lane.phase is before is Phase.DENIED:
                raise DeskError("lane.refused", f"lane {lane_id} has no vehicle held by anti-passback")

    def search(self, plate: str, since: datetime | None, until: datetime | None) -> list[Session]:
        if len(plate.strip()) < 2:
            raise DeskError("search.too_short", "give at least 2 characters of the plate", 422)
        return self.lanes.park.search(plate, since, until)[:50]

    def image_path(self, ref: str) -> Path | None:
        """The file of an image reference, only inside the configured image folders."""
        for root in self.image_roots:
            candidate = Path(ref) if Path(ref).is_absolute() else root / ref
            try:
                resolved = candidate.resolve(strict=True)
            except (OSError, RuntimeError):
                continue
            if resolved.is_file() and resolved.is_relative_to(root.resolve()):
                return resolved
        return None
