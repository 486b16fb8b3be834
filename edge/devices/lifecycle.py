"""The devices' life cycle: stopping a driver within a bound, so a shutdown always ends; and each device's faults
(offline or faulted, then back) journaled with their start and end, for central's report of device faults."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from drivers.health import Health, HealthChange, HealthListener
from edge.lanes.actions import Draft
from edge.site import SiteConfig, lane_devices
from parking.ids import new_id
from parking.wire import RecordKind

_LOGGER = logging.getLogger(__name__)
STOP_TIMEOUT_S = 3.0


async def stop_within(stopping: Coroutine[Any, Any, None], name: str, seconds: float = STOP_TIMEOUT_S) -> None:
    """Stop a driver, but never wait for it longer than ``seconds``: a driver that hangs (or swallows the
    cancellation ``asyncio.wait_for`` would send) is abandoned with a warning, so the shutdown always ends."""
    task = asyncio.ensure_future(stopping)
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if not done:
        task.cancel()
        _LOGGER.warning("%s did not stop within %.0f s; abandoned", name, seconds)
        return
    error = task.exception()
    if error is not None:
        _LOGGER.warning("%s did not stop cleanly: %r", name, error)


# ------------------------------------------------------------------------------------------------ device faults

FAULTY = (Health.OFFLINE, Health.FAULT)
REASON_LIMIT = 200


@dataclass(frozen=True, slots=True)
class SiteDevice:
    kind: str  # the site file's device kind (plate_camera, barrier_io, loop_detector, card_reader, ...)
    lanes: tuple[str, ...]  # the lanes it serves


def site_device_index(site: SiteConfig) -> dict[str, SiteDevice]:
    """Every device of the site by the id its driver reports health under, with its kind and its lanes."""
    found: dict[str, tuple[str, list[str]]] = {d: (device.kind.value, []) for d, device in site.devices.items()}
    for index, lane in enumerate(site.lanes):
        for resolved in lane_devices(site, index).values():
            _kind, lanes = found.setdefault(resolved.id, (resolved.device.kind.value, []))
            if lane.id not in lanes:
                lanes.append(lane.id)
    return {device: SiteDevice(kind, tuple(lanes)) for device, (kind, lanes) in found.items()}


class DeviceFaults:
    """Journals each device fault as two records: ``started`` when a device goes offline or reports a fault, and
    ``cleared`` (with ``fault``, the id of the record that started it) when it is back online or degraded (talking
    again). A fault the edge was stopped in (``open_faults``, read from the journal) is cleared when the device is
    next seen working. A driver being stopped is not a fault: :meth:`close` before stopping the devices.

    ``write`` takes the drafts without waiting (the journal writer's ``defer``): a health listener runs in the
    event loop and must not block it.
    """

    def __init__(
        self, site: SiteConfig, write: Callable[[Sequence[Draft]], object], clock: Callable[[], datetime],
        open_faults: Mapping[str, tuple[str, datetime]] | None = None,
    ) -> None:  # fmt: skip
        self._devices = site_device_index(site)
        self._write, self._clock = write, clock
        self._open: dict[str, tuple[str, datetime]] = dict(open_faults or {})
        self.closed = False

    def open_faults(self) -> dict[str, tuple[str, datetime]]:
        return dict(self._open)

    def close(self) -> None:
        self.closed = True

    def observe(self, change: HealthChange) -> None:
        """A :class:`~drivers.health.HealthListener`: journal a fault's start or its end."""
        if self.closed:
            return
        started, now = self._open.get(change.device), self._clock()
        if change.health in FAULTY and started is None:
            draft = self._draft(change, now, {"event": "started"})
            self._open[change.device] = (draft.id, now)
        elif change.health not in FAULTY and started is not None:
            fault, since = self._open.pop(change.device)
            draft = self._draft(change, now, {"event": "cleared", "fault": fault, "started_at": since.isoformat(),
                                              "seconds": round((now - since).total_seconds(), 3)})  # fmt: skip
        else:
            return
        _LOGGER.info("device %s: fault %s (%s: %s)", change.device, draft.payload["event"], change.health.value,
                     change.reason)  # fmt: skip
        self._write([draft])

    def _draft(self, change: HealthChange, now: datetime, payload: dict[str, Any]) -> Draft:
        device = self._devices.get(change.device, SiteDevice("", ()))
        lanes = list(device.lanes)
        payload |= {"device": change.device, "device_kind": device.kind, "health": change.health.value,
                    "reason": change.reason[:REASON_LIMIT], "lanes": lanes}  # fmt: skip
        lane = lanes[0] if len(lanes) == 1 else None
        return Draft(new_id(), RecordKind.DEVICE_FAULT, lane, now, payload)


def every(*listeners: HealthListener) -> HealthListener:
    """One health listener that tells each of ``listeners`` in turn."""

    def tell(change: HealthChange) -> None:
        for listener in listeners:
            listener(change)

    return tell
