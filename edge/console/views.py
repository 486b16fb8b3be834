"""What the console's screens show, as JSON: money as integer minor units with its display text beside it, times
as text in the car park's zone (the browser does no arithmetic on either)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from edge.booth.cash import denominations
from edge.booth.desk import BoothDesk, line_label
from edge.booth.shift import Shift, ShiftState
from edge.lanes.exit import ExitLane
from edge.lanes.identify import IdentityKind
from edge.lanes.lane import Phase
from edge.lanes.park import Session
from parking.money import format_amount


def local_text(desk: BoothDesk, at: datetime | str | None) -> str | None:
    if at is None:
        return None
    if isinstance(at, str):
        at = datetime.fromisoformat(at.replace("Z", "+00:00"))
    return at.astimezone(desk.zone).strftime("%Y-%m-%d %H:%M:%S")


def money(desk: BoothDesk, minor: int) -> dict[str, Any]:
    return {"minor": minor, "text": format_amount(minor, desk.currency)}


def image_url(ref: str | None) -> str | None:
    return f"/console/api/images/{quote(ref, safe='')}" if ref else None


def lane_view(desk: BoothDesk, lane_id: str) -> dict[str, Any]:
    lane = desk.lanes.lane(lane_id)
    if lane is None:
        raise KeyError(lane_id)
    watch = desk.watches[lane_id]
    view: dict[str, Any] = {
        "id": lane_id, "name": desk.lanes.lane_name(lane_id), "direction": lane.direction,
        "staffed": lane_id in desk.staffed, "phase": lane.phase.value, "barrier": lane.barrier.position.value,
        "arming": lane.arming, "safety": lane.safety, "safety_faulted": lane.safety_faulted,
        "devices": desk.lanes.device_health(lane_id), "out_of_service": desk.lanes.out_of_service(lane_id),
        "pending_payment": watch.pending_payment, "vehicle": None, "due": None,
        "history": [{"at": local_text(desk, at), "kind": kind, "text": text} for at, kind, text in watch.history],
    }  # fmt: skip
    identity = lane.identity
    session: Session | None = None
    due = None
    if isinstance(lane, ExitLane):
        due = lane.due
        session = due.session if due else lane.session
    if lane.phase is not Phase.IDLE or watch.plate:
        plate = (session.plate if session else None) or (identity.plate if identity else None) or watch.plate
        view["vehicle"] = {
            "plate": plate, "confidence": round(identity.plate_confidence if identity else watch.confidence, 3),
            "identity": identity.kind.value if identity else None, "reason": identity.reason if identity else "",
            "days_left": identity.days_left if identity and identity.kind is IdentityKind.PASS else None,
            "vehicle_class": session.vehicle_class if session else (identity.vehicle_class if identity else None),
            "session": session.id if session else None,
            "entry_at": local_text(desk, session.entry_at) if session else None,
            "exit_at": local_text(desk, watch.read_at),
            "entry_image": image_url(desk.entry_images.get(session.id)) if session else None,
            "exit_image": image_url(watch.image),
        }  # fmt: skip
    if due is not None:
        quote_ = due.quote
        view["due"] = {
            **money(desk, quote_.total), "currency": quote_.currency, "lost_card": due.lost_card,
            "tariff_id": quote_.tariff_id,
            "lines": [{"kind": x.get("kind", ""), "label": line_label(x, quote_.currency),
                       **money(desk, int(x.get("amount", 0)))}
                      for x in quote_.lines],
        }  # fmt: skip
    return view


def shift_view(desk: BoothDesk) -> dict[str, Any]:
    shift = desk.shift
    last = desk.booth.last_closed
    view: dict[str, Any] = {
        "booth": desk.booth_id, "currency": desk.currency, "denominations": [
            {"minor": d, "text": format_amount(d, desk.currency)} for d in denominations(desk.currency)],
        "state": shift.state.value if shift else ("closed" if last else "none"), "shift": None, "totals": None,
        "previous_handover": None, "last_closed": report_view(desk, last) if last else None,
    }  # fmt: skip
    handover = shift.previous_handover if shift else (last.handover if last else None)
    if handover is not None:
        view["previous_handover"] = {"note": handover.note, "operator": handover.operator,
                                     "at": local_text(desk, handover.at), "shift": handover.shift}  # fmt: skip
    if shift is not None:
        view["shift"] = {"id": shift.id, "operator": shift.operator, "state": shift.state.value}
        if shift.state in (ShiftState.OPEN, ShiftState.CLOSING):
            totals = shift.totals()
            view["totals"] = {
                "opened_at": local_text(desk, totals.opened_at), "float": money(desk, totals.float_amount),
                "expected_cash": money(desk, totals.expected_cash), "takings": money(desk, totals.takings),
                "by_method": {m: {"count": t.count, **money(desk, t.amount)} for m, t in totals.by_method.items()},
                "drops": money(desk, totals.drops), "bags": totals.bags, "vehicles": totals.vehicles_total,
                "waivers": totals.waivers, "manual_opens": totals.manual_opens,
                "abnormal_events": totals.abnormal_events, "barrier_cycles": totals.barrier_cycles,
                "pending_exit": totals.pending_exit,
            }  # fmt: skip
    return view


def report_view(desk: BoothDesk, shift: Shift) -> dict[str, Any] | None:
    report = shift.report
    if report is None:
        return None
    cash, cards = report.cash, report.cards
    return {
        "shift": shift.id, "operator": report.operator, "closed_by": report.closed_by, "revision": report.revision,
        "opened_at": local_text(desk, report.opened_at), "closed_at": local_text(desk, report.closed_at),
        "state": shift.state.value, "vehicles": report.vehicles, "vehicles_total": report.vehicles_total,
        "by_method": {m: {"count": t.count, **money(desk, t.amount)} for m, t in report.by_method.items()},
        "takings": money(desk, report.takings), "waivers": report.waivers, "free_passes": report.free_passes,
        "waived": money(desk, report.waived_amount),
        "manual_opens": [{"at": local_text(desk, m.at), "lane": m.lane, "reason": m.reason, "plate": m.plate}
                         for m in report.manual_opens],
        "abnormal_events": report.abnormal_events, "abnormal_by_kind": report.abnormal_by_kind,
        "barrier_cycles": report.barrier_cycles, "transactions": report.transactions,
        "unexplained_cycles": report.unexplained_cycles,
        "cash": {
            "float": money(desk, cash.float_amount), "tendered": money(desk, cash.tendered),
            "change": money(desk, cash.change), "taken": money(desk, cash.taken), "drops": money(desk, cash.drops),
            "expected": money(desk, cash.expected), "counted": money(desk, cash.counted_amount),
            "difference": money(desk, cash.difference), "float_left": money(desk, cash.float_left),
            "handed_in": money(desk, cash.handed_in),
            "bags": [{"bag": b.bag, **money(desk, b.amount)} for b in cash.drop_bags],
            "counted_lines": [{"denomination": format_amount(line.denomination, desk.currency), "count": line.count,
                               **money(desk, line.denomination * line.count)} for line in cash.counted.lines],
        },
        "cards": cards.model_dump(), "handover_note": report.handover_note,
        "slip_url": f"/console/api/shifts/{shift.id}/slip.pdf",
    }  # fmt: skip


def session_view(desk: BoothDesk, session: Session) -> dict[str, Any]:
    return {
        "session": session.id, "plate": session.plate, "vehicle_class": session.vehicle_class,
        "kind": session.kind.value, "entry_at": local_text(desk, session.entry_at), "entry_lane": session.entry_lane,
        "entry_image": image_url(desk.entry_images.get(session.id)),
    }  # fmt: skip


def state_view(desk: BoothDesk) -> dict[str, Any]:
    lanes = [lane_view(desk, lane_id) for lane_id in desk.lanes.lane_ids()]
    lanes.sort(key=lambda v: (not v["staffed"], v["id"]))
    return {"version": desk.version, "car_park": desk.car_park_name, "zone": str(desk.zone),
            "now": local_text(desk, desk.clock()), "lanes": lanes, "shift": shift_view(desk),
            "security_alerts": [{**alert, "at_local": local_text(desk, alert["at"])}
                                for alert in desk.security_alerts],
            "lane_alerts": [{**alert, "at_local": local_text(desk, alert["at"])}
                            for alert in desk.lane_alerts]}  # fmt: skip
