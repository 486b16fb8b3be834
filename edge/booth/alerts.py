"""The booth's alert list: what the collector must see and acknowledge (a blacklisted vehicle, a full car park, a
stopped card, a device offline or faulted, a loop or barrier fault, central unreachable, a printer out of paper).

An alert is a plain dict (it goes to the screen as JSON): ``id``, ``kind``, ``lane``, ``message``, ``at`` (ISO UTC),
``details``, ``key`` (an alert about a lasting condition, such as one device's fault, is raised once while it is
not acknowledged) and ``acknowledged_by`` / ``acknowledged_at``. It stays on the list until a collector acknowledges
it (the list is kept in a file beside the journal, :func:`save_alerts`, so a restart of the edge keeps it too);
the acknowledgement is journaled (:func:`acknowledgement_draft`) as a manual action, so central sees who
acknowledged what and when. A collector's fault report (procedure 7.2) is journaled the same way
(:func:`fault_report_draft`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from drivers.health import Health, HealthChange
from edge.lanes.actions import Draft
from parking.ids import new_id
from parking.wire import RecordKind

_LOGGER = logging.getLogger(__name__)
OPEN_KEPT = 100  # unacknowledged alerts kept (beyond it, a flood: the oldest go)
ACKNOWLEDGED_KEPT = 20  # acknowledged alerts still listed, the latest
# The lanes' alert kinds the booth must acknowledge; the others (a fee due, confirm a vehicle) are the lane's
# screen's business and are listed already acknowledged.
ACKNOWLEDGE = frozenset({
    "blacklist", "car_park_full", "stopped_card", "loop_fault", "barrier_fault", "barrier_open_failed",
    "barrier_close_failed", "opened_without_command", "dispenser", "journal", "tailgating", "device_offline",
    "device_fault", "printer_out_of_paper", "central_unreachable",
})  # fmt: skip


def raise_alert(
    alerts: list[dict[str, Any]], kind: str, lane: str | None, message: str, at: datetime,
    details: Mapping[str, Any] | None = None, key: str | None = None,
) -> dict[str, Any] | None:  # fmt: skip
    """Add an alert to ``alerts`` (oldest first); ``None`` when an unacknowledged one with ``key`` is there."""
    if key is not None and any(a["key"] == key and a["acknowledged_by"] is None for a in alerts):
        return None
    alert: dict[str, Any] = {
        "id": new_id(), "kind": kind, "lane": lane, "message": message, "at": at.isoformat(),
        "details": dict(details or {}), "key": key, "acknowledged_by": None, "acknowledged_at": None,
    }  # fmt: skip
    if kind not in ACKNOWLEDGE:
        alert["acknowledged_by"], alert["acknowledged_at"] = "-", alert["at"]
    alerts.append(alert)
    _trim(alerts)
    return alert


def _trim(alerts: list[dict[str, Any]]) -> None:
    open_ = [a for a in alerts if a["acknowledged_by"] is None][-OPEN_KEPT:]
    done = [a for a in alerts if a["acknowledged_by"] is not None][-ACKNOWLEDGED_KEPT:]
    keep = {id(a) for a in (*open_, *done)}
    alerts[:] = [a for a in alerts if id(a) in keep]


def acknowledge(alerts: list[dict[str, Any]], alert_id: str, operator: str, at: datetime) -> dict[str, Any] | None:
    """Mark the alert acknowledged by ``operator``; ``None`` when there is no such unacknowledged alert."""
    alert = next((a for a in alerts if a["id"] == alert_id and a["acknowledged_by"] is None), None)
    if alert is not None:
        alert["acknowledged_by"], alert["acknowledged_at"] = operator, at.isoformat()
        _trim(alerts)
    return alert


def acknowledgement_draft(alert: Mapping[str, Any], booth: str, at: datetime) -> Draft:
    """The journal record of an acknowledgement: who, when, which alert (its kind, lane, message, time)."""
    payload = {
        "action": "acknowledge_alert", "operator": alert["acknowledged_by"], "booth": booth,
        "reason": f"{alert['kind']}: {alert['message']}"[:500], "alert": alert["id"], "alert_kind": alert["kind"],
        "alert_at": alert["at"], "device": alert["details"].get("device"),
    }  # fmt: skip
    return Draft(id=new_id(), kind=RecordKind.MANUAL_ACTION, lane=alert["lane"], at=at, payload=payload)


def fault_report_draft(operator: str, booth: str, lane: str | None, device: str | None, note: str,
                       at: datetime) -> Draft:  # fmt: skip
    """A collector's fault report (7.2): who, when, which lane and device, and the note."""
    payload = {"action": "fault_report", "operator": operator, "booth": booth, "reason": note, "note": note,
               "device": device}  # fmt: skip
    return Draft(id=new_id(), kind=RecordKind.MANUAL_ACTION, lane=lane, at=at, payload=payload)


def device_alert(change: HealthChange) -> tuple[str, str] | None:
    """The alert kind and message for a device's health change (``None``: nothing to alert)."""
    if change.health is Health.FAULT and "paper" in change.reason:
        return "printer_out_of_paper", f"{change.device}: {change.reason}"
    if change.health is Health.FAULT:
        return "device_fault", f"{change.device}: {change.reason}"
    if change.health is Health.OFFLINE:
        return "device_offline", f"{change.device}: {change.reason}"
    return None


def alerts_path(journal_path: Path, booth_id: str) -> Path:
    """A booth's alert list, beside the journal (each booth has its own)."""
    return journal_path.parent / f"booth-alerts-{booth_id}.json"


def save_alerts(path: Path, alerts: list[dict[str, Any]]) -> None:
    """Write the list whole or not at all (a few kilobytes: alerts are rare). A failure is logged: the alerts stay
    on the screen, only a restart would lose them."""
    partial = path.with_name(f".{path.name}.part")
    try:
        partial.write_text(json.dumps(alerts, ensure_ascii=False, default=str))
        os.replace(partial, path)
    except OSError as err:  # a full disk, most likely: one line naming why, not a traceback at every alert
        _LOGGER.warning("the booth's alerts could not be kept in %s: %s", path, err.strerror or err)
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)


def load_alerts(path: Path) -> list[dict[str, Any]]:
    """The list a previous run kept (empty when there is none or it cannot be read)."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return []
    except (OSError, ValueError):
        _LOGGER.warning("the booth's alerts in %s cannot be read: starting with none", path, exc_info=True)
        return []
    keys = ("id", "kind", "lane", "message", "at", "details", "key", "acknowledged_by", "acknowledged_at")
    if not isinstance(data, list):
        return []
    return [a for a in data if isinstance(a, dict) and all(k in a for k in keys) and isinstance(a["details"], dict)]
