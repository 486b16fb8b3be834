"""The desk's alert and fault actions: devices going offline or faulted and central unreachable become alerts at
the booth (:mod:`edge.booth.alerts`), a collector acknowledges one (journaled), a collector reports a fault (7.2).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Any

from drivers.health import Health, HealthChange
from edge.booth.alerts import (
    acknowledge,
    acknowledgement_draft,
    device_alert,
    fault_report_draft,
    raise_alert,
    save_alerts,
)
from edge.booth.errors import DeskError
from edge.booth.ports import LaneControl
from edge.booth.shift import Clock
from edge.store.journal import JournalError


class AlertDesk:
    """The booth desk's side of its alert list (mixed into :class:`edge.booth.desk.BoothDesk`)."""

    lanes: LaneControl
    clock: Clock
    booth_id: str
    lane_alerts: list[dict[str, Any]]
    device_states: dict[str, Health]
    alerts_file: Path | None
    _lock: asyncio.Lock
    _alerts_seen: tuple[int, int, str]

    def changed(self) -> None:
        raise NotImplementedError

    def _alerts_mark(self) -> tuple[int, int, str]:
        alerts = self.lane_alerts
        return len(alerts), sum(a["acknowledged_by"] is None for a in alerts), alerts[-1]["id"] if alerts else ""

    def _keep_alerts(self) -> None:
        seen = self._alerts_mark()
        if self.alerts_file is not None and seen != self._alerts_seen:
            self._alerts_seen = seen
            save_alerts(self.alerts_file, self.lane_alerts)

    # ---------------------------------------------------------------------------------- alerts and faults

    def device_changed(self, change: HealthChange) -> None:
        """A device's health changed (its driver's tracker): going offline or faulted is an alert at the booth."""
        before = self.device_states.get(change.device)
        self.device_states[change.device] = change.health
        found = device_alert(change)
        if found is not None and before is not change.health:
            kind, message = found
            details = {"device": change.device, "health": change.health.value, "reason": change.reason}
            raise_alert(self.lane_alerts, kind, self.lane_of(change.device), message, self.clock(), details,
                        key=f"device:{change.device}")  # fmt: skip
        self.changed()

    def central_unreachable(self, minutes: float, error: str | None) -> None:
        """The outbox has not reached central for ``minutes``: an alert (the lanes go on deciding alone)."""
        message = f"central unreachable for {minutes:.0f} min: {error or 'no answer'}"
        raise_alert(self.lane_alerts, "central_unreachable", None, message, self.clock(),
                    {"minutes": round(minutes), "error": (error or "")[:200]}, key="central")  # fmt: skip
        self.changed()

    def clock_stepped(self, offset_s: float, wall: datetime) -> None:
        """The edge's wall clock jumped (the edge keeps its own time): the collector should have it checked."""
        message = f"the system clock jumped {offset_s:+.0f} s (it reads {wall.isoformat()}); the edge keeps its time"
        raise_alert(self.lane_alerts, "clock_step", None, message, self.clock(), {"offset_s": round(offset_s)})
        self.changed()

    def lane_of(self, device: str) -> str | None:
        """The first lane that uses ``device``."""
        ids = self.lanes.lane_ids()
        return next((lane for lane in ids if any(d["device"] == device for d in self.lanes.device_health(lane))), None)

    async def acknowledge_alert(self, operator: str, alert_id: str) -> dict[str, Any]:
        """The collector saw the alert: it leaves the list, and the acknowledgement is journaled (who, when, what)."""
        async with self._lock:
            now = self.clock()
            alert = acknowledge(self.lane_alerts, alert_id, operator, now)
            if alert is None:
                raise DeskError("alert.unknown", f"no alert {alert_id} waits for an acknowledgement", 404)
            try:
                await self.lanes.commit([acknowledgement_draft(alert, self.booth_id, now)])
            except JournalError as err:
                alert["acknowledged_by"] = alert["acknowledged_at"] = None
                raise DeskError("journal.failed", str(err), 503) from err
            self.changed()
            return alert

    async def report_fault(self, operator: str, lane_id: str, device: str | None, note: str) -> str:
        """A collector's fault report (7.2) on a lane or one of its devices, journaled for central; its record id."""
        if self.lanes.lane(lane_id) is None:
            raise DeskError("lane.unknown", f"no lane {lane_id!r}", 404)
        if device and device not in {d["device"] for d in self.lanes.device_health(lane_id)}:
            raise DeskError("fault.unknown_device", f"lane {lane_id} has no device {device!r}", 422)
        draft = fault_report_draft(operator, self.booth_id, lane_id, device or None, note, self.clock())
        try:
            await self.lanes.commit([draft])
        except JournalError as err:
            raise DeskError("journal.failed", str(err), 503) from err
        self.changed()
        return draft.id
