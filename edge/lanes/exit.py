"""The exit lane: identify, find the session, quote the fee, take payment or a waiver, commit, open, close.

An attended lane waits for the toll collector whenever something is due or unclear; an unattended lane opens by
itself when nothing is due (pass, free vehicle, paid or within the free period) and otherwise shows the amount
and calls the booth. The transaction (fee breakdown and tariff hash) and the session's closing are committed with
the barrier command, before the barrier moves.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from edge.lanes.actions import Alert, Commit, Decided, Display, Draft, LaneAction, Released, Voice
from edge.lanes.events import (
    ApplyCoupon,
    AttachEntry,
    ConfirmVehicle,
    LaneEvent,
    LostCard,
    ManualOpen,
    TakePayment,
    WaiveFee,
)
from edge.lanes.fees import FeeQuote, FeeQuoter
from edge.lanes.identify import Identity, IdentityKind, pass_lines
from edge.lanes.lane import Lane, LaneContext, LaneSettings, Passage, Phase
from edge.lanes.park import Session
from parking.money import format_amount
from parking.tariff import Coupon, CouponError
from parking.wire import RecordKind

_LOGGER = logging.getLogger(__name__)


# The booth's commands: the booth's own record (edge.booth.records, with the shift, method, tender and change) is
# the transaction or manual record the lane commits with the opening, instead of one of its own, so that a
# payment is one record in the journal.
@dataclass(frozen=True, slots=True)
class BoothPayment(TakePayment):
    """A payment taken at the booth; ``record`` is its TRANSACTION draft (committed only if the lane releases)."""

    record: Draft | None = None


@dataclass(frozen=True, slots=True)
class BoothWaiver(WaiveFee):
    """A free or special vehicle let through at the booth; ``record`` is its TRANSACTION draft."""

    record: Draft | None = None


@dataclass(frozen=True, slots=True)
class BoothManualOpen(ManualOpen):
    """A manual open from the booth; ``record`` is its MANUAL_ACTION draft."""

    record: Draft | None = None


@dataclass(slots=True)
class Due:
    """What the vehicle in the lane owes, and for which session."""

    session: Session | None
    quote: FeeQuote
    lost_card: bool = False


class ExitLane(Lane):
    direction = "exit"

    def __init__(self, settings: LaneSettings, context: LaneContext, fees: FeeQuoter) -> None:
        super().__init__(settings, context)
        self.fees = fees
        self.due: Due | None = None
        self.session: Session | None = None
        self.released: Session | None = None  # the session closed for the current opening (reopened on back-out)
        self.coupons: list[Coupon] = []  # validations handed over by the vehicle in the lane

    def _reset(self) -> None:
        super()._reset()
        self.due = None
        self.session = None
        self.coupons = []

    def _after_refused_commit(self, now: datetime) -> None:
        """The release could not be stored: the vehicle still owes what it owed, and waits for the booth."""
        if self.arming:
            self.phase = Phase.WAITING
        else:
            super()._after_refused_commit(now)

    def _find_session(self, identity: Identity) -> Session | None:
        found = self._session_by_credential(identity)
        if found is not None:
            return found
        if identity.plate is not None:
            floor = self.settings.min_confidence / identity.plate_confidence if identity.plate_confidence else 1.0
            for session, similarity in self.park.by_plate(identity.plate, floor):
                if identity.plate_confidence * similarity >= self.settings.min_confidence:
                    return session
        return None

    def _decide(self, identity: Identity, now: datetime) -> list[LaneAction]:
        plate = identity.plate or identity.card or ""
        actions: list[LaneAction] = []
        self.session = self._find_session(identity)
        if identity.kind is IdentityKind.BLACKLIST:
            actions += self._abnormal(now, "blacklist_at_exit", {"session": self.session.id if self.session else None})
            actions.append(Alert("blacklist", f"{self.id}: blacklisted vehicle {plate} leaving", identity.evidence()))
        if identity.kind is IdentityKind.STOPPED_CARD:  # the vehicle is inside: it leaves, paying as a temporary one
            card = identity.stopped_card()
            actions += self._abnormal(now, "stopped_card_at_exit", {"reason": identity.reason, **card})
            evidence = {**identity.evidence(), **card, "image": self._evidence_image()}
            actions.append(Alert("stopped_card", f"{self.id}: {identity.reason}", evidence))
        if identity.pass_stopped:  # it leaves paying as a temporary vehicle; the booth hears of the pass
            evidence = {**identity.evidence(), "image": self._evidence_image()}
            actions.append(Alert("pass_stopped", f"{self.id}: {identity.reason} ({plate})", evidence))
        if identity.kind is IdentityKind.PASS:
            assert identity.pass_record is not None
            if self.session is None:
                actions += self._abnormal(now, "no_entry_record", {"identity": identity.evidence()})
            zero = self._zero_quote()
            lines = pass_lines(plate, identity.days_left or 0)
            return [*actions, *self._release(now, zero, "pass", identity.reason, []), Display(lines)]
        if identity.kind in (IdentityKind.FREE, IdentityKind.SPECIAL):
            if self.settings.free_vehicles == "operator":
                self.phase = Phase.WAITING
                return [
                    *actions, Decided("wait", identity.kind.value, identity.reason),
                    Alert("confirm_vehicle", f"{self.id}: {identity.reason} {plate}, confirm", identity.evidence()),
                ]  # fmt: skip
            return [*actions, *self._release(now, self._zero_quote(), "waiver", identity.reason, []), Display((plate,))]
        if self.session is None:
            # The tariff's rule for an unknown entry (its lost-card fee) is due unless the operator finds the
            # entry (AttachEntry re-quotes) or waives it.
            evidence = {"identity": identity.evidence()}
            return [
                *actions, *self._abnormal(now, "no_entry_record", evidence),
                Alert("no_entry_record", f"{self.id}: no entry record for {plate}", evidence),
                Display((plate, "无入场记录", "请联系岗亭")),
                *self._quote_session(None, now, lost_card=True),
            ]  # fmt: skip
        return actions + self._quote_session(self.session, now, lost_card=False)

    def _zero_quote(self) -> FeeQuote:
        return FeeQuote(0, self.settings.currency, self.settings.tariff or "", "", [], ())

    def _quote_session(self, session: Session | None, now: datetime, *, lost_card: bool) -> list[LaneAction]:
        tariff = self.settings.tariff or ""
        entry = session.entry_at if session else None
        vehicle_class = (
            session.vehicle_class if session else (self.identity.vehicle_class if self.identity else "small")
        )
        paid, paid_at = (session.paid, session.paid_at) if session else (0, None)
        quote = self.fees.quote(tariff, entry, now, vehicle_class, lost_card=lost_card, paid=paid, paid_at=paid_at,
                                coupons=tuple(self.coupons))  # fmt: skip
        actions: list[LaneAction] = []
        limit = self.fees.max_stay(tariff)
        if session is not None and limit is not None and now - session.entry_at > limit:
            actions += self._abnormal(
                now, "session_over_max", {"session": session.id, "entry_at": session.entry_at.isoformat(),
                                          "max_stay_s": int(limit.total_seconds())},
            )  # fmt: skip
        self.due = Due(session, quote, lost_card)
        identity = self.identity.kind.value if self.identity else "unknown"
        if quote.total <= 0 and not lost_card:
            return actions + self._release(now, quote, "nothing_due", "nothing due", [])
        self.phase = Phase.WAITING
        amount = format_amount(quote.total, quote.currency)
        plate = (session.plate if session else None) or ""
        notice = self.identity.pass_notice if self.identity else ()
        due = f"{amount} {quote.currency} due"
        actions += [Decided("wait", identity, due), Display((plate, *notice, f"请缴费 {amount}元"))]
        actions.append(Voice(f"请缴费{amount}元"))
        if not self.settings.attended:
            actions.append(Alert("call_booth", f"{self.id}: {amount} {quote.currency} due", {"session": plate}))
        return actions

    def _release(
        self,
        now: datetime,
        quote: FeeQuote,
        kind: str,
        reason: str,
        drafts: list[Draft],
        transaction: Draft | None = None,
        *,
        booth_record: bool = False,
        **extra: Any,
    ) -> list[LaneAction]:
        """Commit the transaction (``transaction``: the booth's, else the lane's own) and the session's closing
        with the opening, then open. ``booth_record``: ``drafts`` hold the booth's record of this release."""
        session = self.session if self.due is None else self.due.session
        identity = self.identity
        tx_payload: dict[str, Any] = {
            "transaction_kind": kind, "reason": reason, "session": session.id if session else None,
            "plate": (session.plate if session else None) or (identity.plate if identity else None),
            **quote.to_payload(), **extra,
        }  # fmt: skip
        if identity is not None:
            tx_payload["identity"] = identity.evidence()
        if identity is not None and identity.vehicle is not None:
            tx_payload["category"] = identity.vehicle.category
        booth = transaction is not None
        transaction = transaction or self._draft(RecordKind.TRANSACTION, now, tx_payload)
        records = [*drafts, transaction]
        if session is not None:
            closing = {"event": "closed", "session": session.id, "exit_at": now.isoformat(), "exit_lane": self.id,
                       "transaction": transaction.id}  # fmt: skip
            if booth:  # the booth's record does not carry the tariff's hash: it goes with the closing
                closing |= {"tariff_id": quote.tariff_id, "tariff_hash": quote.tariff_hash}
            records.append(self._draft(RecordKind.SESSION, now, closing))
            self.park.close(session.id)
        self.released = session
        outcome = Decided("open", identity.kind.value if identity else "manual", reason)
        commit, opening = self._open(now, reason, transaction.id, records, session.id if session else None)
        free_pass = None
        listed = identity is not None and identity.kind in (IdentityKind.FREE, IdentityKind.SPECIAL)
        if kind == "waiver" and listed and not (booth or booth_record) and identity and identity.vehicle:
            free_pass = (identity.kind.value, identity.vehicle.category)
        return [outcome, commit, Released(kind, session, by_booth=booth or booth_record, free_pass=free_pass), opening]

    def _on_window_expired(self, now: datetime) -> list[LaneAction]:
        self.phase = Phase.WAITING
        return [
            Decided("wait", "unknown", "no plate read and no card"),
            Alert("call_booth", f"{self.id}: no plate read and no card"),
            Display(("请联系岗亭",)),
        ]

    def _undo_opening(self, passage: Passage, now: datetime) -> list[LaneAction]:
        """Paid and opened, then reversed: the vehicle is still inside, so its session is reopened."""
        reopened, self.released = self.released, None
        if reopened is None or reopened.id != passage.session_id:
            return []
        self.park.open(reopened)
        payload = {"event": "reopened", **reopened.to_payload(), "reason": "back_out"}
        return [Commit((self._draft(RecordKind.SESSION, now, payload),))]

    def _manual_open(self, command: ManualOpen, now: datetime) -> list[LaneAction]:
        manual = self._manual_record("manual_open", command, now, session=self.session.id if self.session else None)
        booth = isinstance(command, BoothManualOpen) and command.record is not None
        if isinstance(command, BoothManualOpen) and command.record is not None:
            manual = command.record
        quote = self.due.quote if self.due else self._zero_quote()
        waived = quote.waived()
        return self._release(now, waived, "manual_open", command.reason, [manual], booth_record=booth, due=quote.total)

    def _on_other(self, event: LaneEvent, now: datetime) -> list[LaneAction]:
        if self.phase is not Phase.WAITING:
            return []
        if isinstance(event, TakePayment) and self.due is not None:
            due = self.due.quote
            if event.amount < due.total:
                short = format_amount(due.total - event.amount, due.currency)
                return [Display((f"金额不足 差{short}元",)), Alert("payment_short", f"{self.id}: short by {short}")]
            if isinstance(event, BoothPayment) and event.record is not None:
                if event.record.payload.get("amount") != due.total:  # the fee changed since the booth read it
                    return [Alert("payment_mismatch", f"{self.id}: the booth took {event.record.payload.get('amount')}"
                                                      f" but {due.total} is due")]  # fmt: skip
                return self._release(now, due, "payment", event.reason or "paid", [], event.record)
            extra: dict[str, Any] = {"method": event.method, "tendered": event.amount, "operator": event.operator,
                                     "lost_card": self.due.lost_card}  # fmt: skip
            return self._release(now, due, "payment", event.reason or "paid", [], **extra)
        if isinstance(event, BoothWaiver) and event.record is not None:
            quote = self.due.quote if self.due else self._zero_quote()
            waived = quote.waived()
            return self._release(now, waived, "waiver", event.reason, [], event.record)
        if isinstance(event, WaiveFee):
            manual = self._manual_record("waive_fee", event, now, category=event.category,
                                         session=self.session.id if self.session else None)  # fmt: skip
            quote = self.due.quote if self.due else self._zero_quote()
            waived = quote.waived()
            return self._release(now, waived, "waiver", event.reason, [manual], category=event.category,
                                 due=quote.total, operator=event.operator)  # fmt: skip
        if isinstance(event, ConfirmVehicle) and self.identity is not None and self.due is None:
            manual = self._manual_record("confirm_vehicle", event, now)
            return self._release(now, self._zero_quote(), "waiver", self.identity.reason, [manual])
        if isinstance(event, LostCard):
            manual = self._manual_record("lost_card", event, now, session=self.session.id if self.session else None)
            return [Commit((manual,)), *self._quote_session(self.session, now, lost_card=True)]
        if isinstance(event, ApplyCoupon) and self.due is not None:
            return self._apply_coupon(event, now)
        if isinstance(event, AttachEntry):
            session = self.park.sessions.get(event.session_id)
            if session is None:
                return [Alert("search_entry", f"{self.id}: no open session {event.session_id}")]
            self.session = session
            manual = self._manual_record("attach_entry", event, now, session=session.id)
            return [Commit((manual,)), *self._quote_session(session, now, lost_card=False)]
        return []

    def _apply_coupon(self, event: ApplyCoupon, now: datetime) -> list[LaneAction]:
        """Journal the coupon with the operator, then quote again with it (releasing the vehicle if nothing is left
        to pay)."""
        assert self.due is not None
        try:
            coupon = Coupon(minutes=event.minutes, amount=event.amount, code=event.code[:32])
        except CouponError as err:
            return [Alert("coupon_refused", f"{self.id}: {err}")]
        session = self.due.session
        manual = self._manual_record("coupon", event, now, session=session.id if session else None,
                                     coupon={"minutes": coupon.minutes, "amount": coupon.amount, "code": coupon.code},
                                     due_before=self.due.quote.total)  # fmt: skip
        self.coupons.append(coupon)
        return [Commit((manual,)), *self._quote_session(session, now, lost_card=self.due.lost_card)]
