"""The entry lane: identify the vehicle on the arming loop, decide, commit the session, open, close behind it.

Every outcome carries its reason: an opening in the session record, a refusal in an abnormal-event record
(``entry_denied``, its ``code`` saying why: ``blacklist``, ``full``, ``anti_passback``, ``lost_card``,
``revoked_card``, ``replaced_card``), so every access attempt is reported, refused ones included.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from edge.lanes.actions import Alert, Commit, Decided, DispenseCard, Display, LaneAction, Voice
from edge.lanes.events import (
    CardDispensed,
    ConfirmVehicle,
    DispenserFailed,
    LaneEvent,
    ManualOpen,
    ResetAntiPassback,
)
from edge.lanes.identify import RENEWAL_REMINDER_DAYS, STOPPED_CARD_TEXT, Identity, IdentityKind, pass_lines
from edge.lanes.lane import Lane, LaneContext, LaneSettings, Passage, Phase
from edge.lanes.park import Session, SessionKind
from parking.wire import CardStatus, RecordKind

_LOGGER = logging.getLogger(__name__)


class EntryLane(Lane):
    direction = "entry"

    def __init__(self, settings: LaneSettings, context: LaneContext) -> None:
        super().__init__(settings, context)
        self.pending_flags: list[str] = []  # flags of the vehicle waiting for its temporary card

    def _inside(self, identity: Identity) -> Session | None:
        """The open session of this credential, if the vehicle is already inside (anti-passback)."""
        found = self._session_by_credential(identity)
        if found is not None:
            return found
        if identity.plate is not None:
            close = self.park.by_plate(identity.plate, min_similarity=0.9)
            if close:
                return close[0][0]
        return None

    def _decide(self, identity: Identity, now: datetime) -> list[LaneAction]:
        plate = identity.plate or identity.card or ""
        if identity.kind is IdentityKind.BLACKLIST:
            return [
                *self._deny(now, identity.reason, "blacklist"),
                Alert("blacklist", f"{self.id}: blacklisted vehicle {plate}", identity.evidence()),
                Display((plate, "禁止通行")),
            ]
        if identity.kind is IdentityKind.STOPPED_CARD:
            return self._refuse_stopped_card(identity, now)
        flags: list[str] = []
        if identity.kind is not IdentityKind.UNKNOWN and self.settings.anti_passback != "off":
            inside = self._inside(identity)
            if inside is not None:
                if self.settings.anti_passback == "hard":
                    reason = f"anti-passback: already inside since {inside.entry_at.isoformat()} (session {inside.id})"
                    return [
                        *self._deny(now, reason, "anti_passback", session=inside.id),
                        Alert("anti_passback", f"{self.id}: {plate} is already inside", {"session": inside.id}),
                        Display((plate, "车辆已在场内", "请联系岗亭")),
                    ]
                flags.append("anti_passback")
        if identity.kind is IdentityKind.PASS:
            assert identity.pass_record is not None
            if (identity.days_left or 0) <= RENEWAL_REMINDER_DAYS:
                flags.append("renewal_reminder")
            session = self._session(identity, SessionKind.PASS, now, flags, pass_id=identity.pass_record.id)
            lines = pass_lines(plate, identity.days_left or 0)
            return [*self._admit(session, identity, now), Display(lines), Voice("欢迎光临")]
        if identity.kind in (IdentityKind.FREE, IdentityKind.SPECIAL):
            kind = SessionKind.FREE if identity.kind is IdentityKind.FREE else SessionKind.SPECIAL
            if self.settings.free_vehicles == "operator":
                self.phase = Phase.WAITING
                return [
                    Decided("wait", identity.kind.value, identity.reason),
                    Alert("confirm_vehicle", f"{self.id}: {identity.reason} {plate}, confirm", identity.evidence()),
                    Display((plate, "请稍候")),
                ]
            session = self._session(identity, kind, now, flags, category=self._category(identity))
            return [*self._admit(session, identity, now), Display((plate, "欢迎光临"))]
        actions = self._temporary(identity, now, flags)
        if identity.pass_stopped:  # it enters as a temporary vehicle; the booth hears of the pass
            evidence = {**identity.evidence(), "image": self._evidence_image()}
            actions.append(Alert("pass_stopped", f"{self.id}: {identity.reason} ({plate})", evidence))
        return actions

    def _refuse_stopped_card(self, identity: Identity, now: datetime) -> list[LaneAction]:
        """A card central stopped: refused with its state on the display, the booth alerted, the refusal journaled
        with the card and its holder (central shows it to the front desk)."""
        card = identity.stopped_card()
        status = CardStatus(str(card["card_status"]))
        evidence = {**identity.evidence(), **card, "image": self._evidence_image()}
        return [
            *self._deny(now, identity.reason, f"{status.value}_card", **card),
            Alert("stopped_card", f"{self.id}: {identity.reason}", evidence),
            Display((str(card["card"]), STOPPED_CARD_TEXT[status], "请联系管理处")),
            Voice(STOPPED_CARD_TEXT[status]),
        ]

    @staticmethod
    def _category(identity: Identity) -> str | None:
        return identity.vehicle.category if identity.vehicle else None

    def _temporary(self, identity: Identity, now: datetime, flags: list[str]) -> list[LaneAction]:
        plate = identity.plate or identity.card or ""
        notice = identity.pass_notice
        if notice:
            flags.append("expired_pass")
        if self.context.storage_low is not None:
            reason = f"journal storage low: {self.context.storage_low}"
            return [
                *self._deny(now, reason, "storage_low"),
                Alert("storage_low", f"{self.id}: temporary vehicle {plate} refused: {self.context.storage_low}"),
                Display((plate, "存储空间不足", "临时车暂停入场 请联系岗亭")),
            ]
        if not self.park.has_room(identity.vehicle_class):
            bucket = self.park.capacity_class(identity.vehicle_class)
            reason = f"car park full for {bucket} vehicles"
            return [*self._deny(now, reason, "full"), Display((plate, "车位已满"))]
        if identity.plate is not None and self.settings.ticketless:
            session = self._session(identity, SessionKind.TEMPORARY, now, flags)
            return [*self._admit(session, identity, now), Display((plate, *notice, "临时车 欢迎光临"))]
        if self.settings.has_dispenser:
            self.phase = Phase.DISPENSING
            self.pending_flags = flags
            decided = Decided("dispense", identity.kind.value, identity.reason)
            return [decided, DispenseCard(), Display((*notice, "请取卡"))]
        if identity.card is not None:
            session = self._session(identity, SessionKind.TEMPORARY, now, flags)
            return [*self._admit(session, identity, now), Display((plate, *notice, "临时车 欢迎光临"))]
        self.phase = Phase.WAITING
        return [
            Decided("wait", identity.kind.value, identity.reason),
            Alert("call_booth", f"{self.id}: {identity.reason}", identity.evidence()),
            Display((*notice, "请联系岗亭")),
        ]

    def _session(self, identity: Identity, kind: SessionKind, now: datetime, flags: list[str], **extra: Any) -> Session:
        return Session(
            id=self._new_id(now), kind=kind, vehicle_class=identity.vehicle_class,
            entry_at=now, entry_lane=self.id, plate=identity.plate, card=identity.card, flags=list(flags), **extra,
        )  # fmt: skip

    def _admit(self, session: Session, identity: Identity | None, now: datetime, *drafts: Any) -> list[LaneAction]:
        """Commit the entry (and any manual record), then open; occupancy counts the vehicle from now."""
        reason = identity.reason if identity else "manual"
        payload = {"event": "opened", **session.to_payload(), "decision": reason}
        if identity is not None:
            payload["identity"] = identity.evidence()
        image = self._evidence_image()
        if image is not None:
            payload["image"] = image  # the entry picture, for the exit booth's screen (also after a restart)
        record = self._draft(RecordKind.SESSION, now, payload)
        record = type(record)(session.id, record.kind, record.lane, record.at, record.payload)
        self.park.open(session)
        outcome = [Decided("open", identity.kind.value if identity else "manual", reason)]
        return [*outcome, *self._open(now, reason, session.id, [*drafts, record], session.id)]

    def _deny(self, now: datetime, reason: str, code: str, **details: Any) -> list[LaneAction]:
        self.phase = Phase.DENIED if self.arming else Phase.IDLE
        identity = self.identity.kind.value if self.identity else "unknown"
        return [
            Decided("deny", identity, reason),
            *self._abnormal(now, "entry_denied", {"code": code, "reason": reason, **details}),
        ]

    def _on_window_expired(self, now: datetime) -> list[LaneAction]:
        """No usable read and no card in the window: a temporary card if there is a dispenser, else the booth."""
        self.identity = Identity(IdentityKind.UNKNOWN, "no plate read and no card", "small")
        return self._temporary(self.identity, now, [])

    def _undo_opening(self, passage: Passage, now: datetime) -> list[LaneAction]:
        """The vehicle did not come in: the session opened for it is voided."""
        session = self.park.close(passage.session_id) if passage.session_id else None
        if session is None:
            return []
        void = {"event": "voided", "session": session.id, "reason": "back_out"}
        return [Commit((self._draft(RecordKind.SESSION, now, void),))]

    def _manual_open(self, command: ManualOpen, now: datetime) -> list[LaneAction]:
        identity = self.identity
        manual = self._manual_record("manual_open", command, now)
        if identity is not None and (identity.plate or identity.card):
            session = self._session(identity, SessionKind.TEMPORARY, now, ["manual_open"])
            session.kind = {
                IdentityKind.PASS: SessionKind.PASS, IdentityKind.FREE: SessionKind.FREE,
                IdentityKind.SPECIAL: SessionKind.SPECIAL,
            }.get(identity.kind, SessionKind.TEMPORARY)  # fmt: skip
            if identity.pass_record is not None:
                session.pass_id = identity.pass_record.id
            session.category = self._category(identity)
            return self._admit(session, identity, now, manual)
        return [
            Decided("open", "manual", command.reason),
            *self._open(now, f"manual open: {command.reason}", manual.id, [manual], None),
        ]

    def _on_other(self, event: LaneEvent, now: datetime) -> list[LaneAction]:
        if isinstance(event, CardDispensed) and self.phase is Phase.DISPENSING:
            identity = self.identity or Identity(IdentityKind.UNKNOWN, "temporary card", "small")
            flags, self.pending_flags = self.pending_flags, []
            session = self._session(identity, SessionKind.TEMPORARY, now, flags)
            session.card = event.number
            return [*self._admit(session, identity, now), Display(("临时卡 欢迎光临",))]
        if isinstance(event, DispenserFailed) and self.phase is Phase.DISPENSING:
            self.phase = Phase.WAITING
            return [Alert("dispenser", f"{self.id}: dispenser failed: {event.reason}"), Display(("请联系岗亭",))]
        if isinstance(event, ConfirmVehicle) and self.phase is Phase.WAITING and self.identity is not None:
            identity = self.identity
            kind = {IdentityKind.FREE: SessionKind.FREE, IdentityKind.SPECIAL: SessionKind.SPECIAL}.get(
                identity.kind, SessionKind.TEMPORARY
            )
            manual = self._manual_record("confirm_vehicle", event, now, category=self._category(identity))
            session = self._session(identity, kind, now, ["operator_confirmed"], category=self._category(identity))
            return self._admit(session, identity, now, manual)
        if isinstance(event, ResetAntiPassback) and self.identity is not None and self.phase is Phase.DENIED:
            inside = self._inside(self.identity)
            if inside is None:
                return []
            self.park.close(inside.id)
            manual = self._manual_record("reset_anti_passback", event, now, session=inside.id)
            void = self._draft(
                RecordKind.SESSION, now, {"event": "voided", "session": inside.id, "reason": "anti_passback_reset"}
            )
            self.phase = Phase.COLLECTING
            return [Commit((manual, void)), *self._decide(self.identity, now)]
        return []
