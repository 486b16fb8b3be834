"""Maps the drivers onto lanes: driver events become lane events, lane actions become driver commands.

The drivers know nothing of lanes (``drivers/`` imports nothing of ours); this module is the integration layer.
One :class:`SiteDevices` builds every device of the site once (devices on one RS-485 port share a Modbus bus),
and one :class:`LaneDevices` per lane is that lane's :class:`~edge.runner.LanePort`.

A barrier I/O module that goes offline makes its lane's safety loop count as faulted (so nothing closes on an
unknown loop) until the driver reports the loops again.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from drivers.cards import CardRead
from drivers.health import Health, HealthChange, HealthTracker
from drivers.modbus import (
    DEFAULT_IO_MAP,
    BarrierChanged,
    LoopDetectorConfig,
    ModbusBus,
    ModbusIoConfig,
    ModbusIoModule,
    ModbusLink,
    ModbusLoopDetector,
    SafetyInterlockError,
)
from drivers.modbus import BarrierPosition as DriverPosition
from drivers.modbus import LoopChanged as DriverLoopChanged
from drivers.modbus import LoopRole as DriverLoopRole
from drivers.serial_line import LineLinkConfig
from drivers.tasks import cancel_and_wait
from edge.devices.cameras import SiteCameras
from edge.devices.lifecycle import stop_within
from edge.lanes.events import (
    BarrierPosition,
    BarrierReport,
    CardDispensed,
    CardPresented,
    DispenserFailed,
    LaneEvent,
    Loop,
    LoopChanged,
    PlateSeen,
)
from edge.site import Device, SerialConnection, SiteConfig, TcpConnection, lane_devices

_LOGGER = logging.getLogger(__name__)

Submit = Callable[[LaneEvent, float], None]

_POSITIONS = {
    DriverPosition.OPEN: BarrierPosition.OPEN,
    DriverPosition.CLOSED: BarrierPosition.CLOSED,
    DriverPosition.MOVING: BarrierPosition.MOVING,
    DriverPosition.FAULT: BarrierPosition.FAULT,
}


def loop_event(event: DriverLoopChanged) -> LoopChanged:
    loop = Loop.SAFETY if event.loop is DriverLoopRole.SAFETY else Loop.ARMING
    return LoopChanged(loop, event.present, faulted=event.fault is not None)


def barrier_event(event: BarrierChanged) -> BarrierReport | None:
    position = _POSITIONS.get(event.status.position)
    if position is None:  # no limit switches wired: nothing to report
        return None
    detail = "obstacle" if event.status.obstacle else ""
    return BarrierReport(position, detail)


def card_number(read: CardRead) -> str:
    """The number lists use (``parking.wire.CardRecord.number``): ``facility:card`` when there is a facility code."""
    return f"{read.facility}:{read.card_number}" if read.facility is not None else str(read.card_number)


def card_event(read: CardRead) -> CardPresented:
    return CardPresented(card_number(read), read.reader)


def plate_event(read: Any) -> PlateSeen:
    """A plate camera's normalised read (``drivers.lpr``) as a lane event; attributes read by name."""
    confidence = float(getattr(read, "confidence", 0.0))
    if confidence > 1.0:  # some cameras report 0..100
        confidence /= 100.0
    colour = getattr(read, "colour", None) or getattr(read, "color", None)
    return PlateSeen(
        plate=str(read.plate), confidence=confidence, colour=colour,
        camera=str(getattr(read, "camera", "") or getattr(read, "camera_id", "")),
        image=getattr(read, "image", None) or getattr(read, "image_ref", None),
        taken_at=taken if isinstance(taken := getattr(read, "at", None), datetime) and taken.tzinfo else None,
        event_id=str(event) if (event := getattr(read, "event_id", None)) is not None else None,
    )  # fmt: skip


def modbus_link(device: Device) -> ModbusLink:
    conn = device.connection
    if isinstance(conn, SerialConnection):
        return ModbusLink(conn.port, conn.baudrate, conn.parity, conn.bytesize, conn.stopbits, conn.timeout_ms)
    if isinstance(conn, TcpConnection):
        return ModbusLink(f"socket://{conn.host}:{conn.port}")  # RTU through a serial server
    raise ValueError(f"a Modbus device needs a serial or tcp connection, not {conn.type}")


def line_link(device_id: str, device: Device) -> LineLinkConfig:
    """The line-protocol link of a display or a card dispenser: its serial port, or a serial server over TCP."""
    conn = device.connection
    if isinstance(conn, SerialConnection):
        return LineLinkConfig(device_id, conn.port, baudrate=conn.baudrate, timeout_ms=conn.timeout_ms)
    if isinstance(conn, TcpConnection):
        return LineLinkConfig(device_id, f"socket://{conn.host}:{conn.port}")
    raise ValueError(f"a line-protocol device needs a serial or tcp connection, not {conn.type}")


def receipt_printer(device_id: str, device: Device) -> Any:
    """The ESC/POS receipt printer of a ``printer`` slot: raw TCP (port 9100) or a serial port."""
    from drivers.escpos.transport import NetworkPrinter, SerialPrinter

    conn = device.connection
    if isinstance(conn, TcpConnection):
        return NetworkPrinter(device_id, conn.host, conn.port)
    if isinstance(conn, SerialConnection):
        return SerialPrinter(device_id, conn.port, baudrate=conn.baudrate)
    raise ValueError(f"printer {device_id} needs a serial or tcp connection, not {conn.type}")


def lane_printers(site: SiteConfig, on_health: Callable[[HealthChange], None] | None = None) -> dict[str, Any]:
    """Each lane's receipt printer (lane id -> printer), one driver per device even when lanes share it."""
    built: dict[str, Any] = {}
    printers: dict[str, Any] = {}
    for index, lane in enumerate(site.lanes):
        slot = lane_devices(site, index).get("printer")
        if slot is None or slot.device.driver != "escpos":
            continue
        if slot.id not in built:
            built[slot.id] = receipt_printer(slot.id, slot.device)
            if on_health is not None:
                built[slot.id].health.listeners.append(on_health)
        printers[lane.id] = built[slot.id]
    return printers


@dataclass
class SiteDevices:
    """Every driver instance of the site, built once, started and stopped together."""

    io_modules: dict[str, ModbusIoModule] = field(default_factory=dict)
    loop_detectors: dict[str, ModbusLoopDetector] = field(default_factory=dict)
    card_readers: dict[str, Any] = field(default_factory=dict)
    buses: dict[str, ModbusBus] = field(default_factory=dict)
    on_health: list[Callable[[HealthChange], None]] = field(default_factory=list)
    cameras: SiteCameras = field(default_factory=SiteCameras)
    line_devices: dict[str, Any] = field(default_factory=dict)  # displays and card dispensers
    _pumps: list[asyncio.Task[None]] = field(default_factory=list)

    def io_module(self, device_id: str, device: Device) -> ModbusIoModule:
        if device_id not in self.io_modules:
            link = modbus_link(device)
            if link.url not in self.buses:
                self.buses[link.url] = ModbusBus(link)
            bus = self.buses[link.url]
            settings = device.modbus
            config = ModbusIoConfig(
                name=device_id, link=link, unit_id=settings.unit_id if settings else 1,
                poll_interval_ms=settings.poll_interval_ms if settings else 20,
                addressing=settings.addressing if settings else "bits",
                io_map=device.io_map or DEFAULT_IO_MAP,  # the site model holds the driver's own I/O map
            )  # fmt: skip
            self.io_modules[device_id] = ModbusIoModule(config, bus=bus)
        return self.io_modules[device_id]

    def loop_detector(self, device_id: str, device: Device) -> ModbusLoopDetector:
        """An LD120-style loop detector (channel 1 arming, channel 2 safety), sharing its RS-485 bus."""
        if device_id not in self.loop_detectors:
            link = modbus_link(device)
            if link.url not in self.buses:
                self.buses[link.url] = ModbusBus(link)
            settings = device.modbus
            config = LoopDetectorConfig(
                name=device_id, link=link, unit_id=settings.unit_id if settings else 1,
                poll_interval_ms=settings.poll_interval_ms if settings else 50,
            )  # fmt: skip
            self.loop_detectors[device_id] = ModbusLoopDetector(config, bus=self.buses[link.url])
        return self.loop_detectors[device_id]

    def card_reader(self, device_id: str, device: Device) -> Any:
        if device_id in self.card_readers:
            return self.card_readers[device_id]
        conn = device.connection
        if not isinstance(conn, SerialConnection):
            raise ValueError(f"card reader {device_id} needs a serial connection")
        if device.driver == "wiegand_rs485":
            from drivers.wiegand.converter import WiegandConverterConfig, WiegandConverterReader

            reader: Any = WiegandConverterReader(WiegandConverterConfig(device_id, conn.port, conn.baudrate))
        else:
            from drivers.osdp.reader import OsdpReader, OsdpReaderConfig

            key = os.environ.get(device.scbk_env or "", "")
            reader = OsdpReader(OsdpReaderConfig(
                device_id, conn.port, address=device.address or 0, baudrate=conn.baudrate,
                scbk=bytes.fromhex(key) if key else None, require_secure=device.secure_channel,
            ))  # fmt: skip
        self.card_readers[device_id] = reader
        return reader

    def line_device(self, device_id: str, device: Device) -> Any:
        """A display (``serial_text``) or a card dispenser (``serial_dispenser``) on our line protocol."""
        if device_id not in self.line_devices:
            from drivers.dispenser import SerialCardDispenser
            from drivers.display import SerialTextDisplay

            config = line_link(device_id, device)
            kind = SerialCardDispenser if device.driver == "serial_dispenser" else SerialTextDisplay
            self.line_devices[device_id] = kind(config)
        return self.line_devices[device_id]

    def health_of(self, device_id: str) -> HealthTracker | None:
        """The health a device's driver keeps (``None``: no driver of ours for it, or a camera not started)."""
        for kind in (self.io_modules, self.loop_detectors, self.card_readers, self.line_devices):
            if device_id in kind:
                tracker: HealthTracker = kind[device_id].health
                return tracker
        return self.cameras.trackers.get(device_id)

    async def start(self) -> None:
        for line_device in self.line_devices.values():
            line_device.health.listeners.extend(self.on_health)
            await line_device.start()
        for polled in [*self.io_modules.values(), *self.loop_detectors.values()]:
            polled.health.listeners.extend(self.on_health)
            await polled.start()
        for reader in self.card_readers.values():
            reader.health.listeners.extend(self.on_health)
            await reader.start()
        await self.cameras.start(self.on_health)

    async def stop(self) -> None:
        await self.cameras.stop()
        for task in self._pumps:
            await cancel_and_wait(task)
        # A driver that does not stop in time must not hold up the shutdown (the journal is already safe); they stop
        # together, so a site of 64 lanes waits at most one driver's timeout, not one after another (measured by
        # benchmarks/bench_edge_start.py: 40 s at 64 lanes before).
        devices: list[Any] = [
            *self.io_modules.values(), *self.loop_detectors.values(), *self.card_readers.values(),
            *self.line_devices.values(),
        ]  # fmt: skip
        await asyncio.gather(
            *(stop_within(device.stop(), getattr(device, "name", None) or type(device).__name__) for device in devices)
        )
        for bus in self.buses.values():
            bus.close()


class LaneDevices:
    """One lane's devices: routes their events to the lane (``submit``) and carries out its commands."""

    def __init__(self, lane_id: str, submit: Submit) -> None:
        self.lane_id = lane_id
        self.submit = submit
        self.barrier: ModbusIoModule | None = None
        self.close_wanted = False  # the driver refused a close (its view of the safety loop): retry when clear
        self._retries: set[asyncio.Future[None]] = set()
        self.display: Any = None
        self.dispenser: Any = None

    @classmethod
    def for_lane(cls, site: SiteConfig, index: int, devices: SiteDevices, submit: Submit) -> LaneDevices:
        lane = site.lanes[index]
        port = cls(lane.id, submit)
        slots = lane_devices(site, index)
        barrier = slots.get("barrier")
        if barrier is not None and barrier.device.driver == "modbus_io":
            port.barrier = devices.io_module(barrier.id, barrier.device)
            port.barrier.add_listener(port._on_modbus)
        loops = slots.get("loops")
        if loops is not None and loops.id != (barrier.id if barrier else None):
            if loops.device.driver == "modbus_io":
                devices.io_module(loops.id, loops.device).add_listener(port._on_modbus)
            elif loops.device.driver == "modbus_ld":
                devices.loop_detector(loops.id, loops.device).add_listener(port._on_modbus)
        for slot in ("camera", "rear_camera"):
            camera = slots.get(slot)
            if camera is not None:
                devices.cameras.add(camera.id, camera.device, submit)
        display = slots.get("display")
        if display is not None and display.device.driver == "serial_text":
            port.display = devices.line_device(display.id, display.device)
        dispenser = slots.get("dispenser")
        if dispenser is not None and dispenser.device.driver == "serial_dispenser":
            port.dispenser = devices.line_device(dispenser.id, dispenser.device)
            port.dispenser.add_listener(port._on_dispenser)
        reader = slots.get("card_reader")
        if reader is not None:
            card_reader = devices.card_reader(reader.id, reader.device)
            devices._pumps.append(asyncio.ensure_future(port._pump_cards(card_reader)))
        return port

    # ------------------------------------------------------------------------------------------ events in

    def _on_modbus(self, event: Any) -> None:
        received = time.perf_counter()
        if isinstance(event, DriverLoopChanged):
            mapped = loop_event(event)
            self.submit(mapped, received)
            if mapped.loop is Loop.SAFETY and not (mapped.occupied or mapped.faulted) and self.close_wanted:
                self.close_wanted = False
                task = asyncio.ensure_future(self.close_barrier())
                self._retries.add(task)
                task.add_done_callback(self._retries.discard)
        elif isinstance(event, BarrierChanged):
            report = barrier_event(event)
            if report is not None:
                self.submit(report, received)
        elif isinstance(event, HealthChange) and event.health in (Health.OFFLINE,):
            # The loops are unknown while the module is unreachable: never close on them.
            self.submit(LoopChanged(Loop.SAFETY, False, faulted=True), received)

    def _on_dispenser(self, event: Any) -> None:
        from drivers.dispenser import CardRecalled, CardTaken, Jammed

        received = time.perf_counter()
        if isinstance(event, CardTaken):  # the driver has the card: the entry can be committed and opened
            self.submit(CardDispensed(event.card), received)
        elif isinstance(event, CardRecalled):
            self.submit(DispenserFailed("card not taken (recalled)"), received)
        elif isinstance(event, Jammed) and event.jammed:
            self.submit(DispenserFailed("dispenser jammed"), received)

    async def _pump_cards(self, reader: Any) -> None:
        while True:
            read: CardRead = await reader.events.get()
            self.submit(card_event(read), time.perf_counter())

    def plate_read(self, read: Any) -> None:
        """Feed a plate camera's read (from the LPR driver's listener or the camera HTTP endpoint)."""
        self.submit(plate_event(read), time.perf_counter())

    # --------------------------------------------------------------------------------------- commands out

    async def open_barrier(self) -> None:
        if self.barrier is None:
            _LOGGER.warning("lane %s has no barrier driver: open not sent", self.lane_id)
            return
        self.close_wanted = False
        await self.barrier.open()

    async def close_barrier(self) -> None:
        if self.barrier is None:
            return
        try:
            await self.barrier.close()
        except SafetyInterlockError as err:
            self.close_wanted = True
            _LOGGER.info("lane %s: %s; closing when the safety loop clears", self.lane_id, err)

    async def show(self, lines: tuple[str, ...]) -> None:
        _LOGGER.info("lane %s display: %s", self.lane_id, " | ".join(lines), extra={"lane": self.lane_id})
        if self.display is not None:
            await self.display.show(lines)

    async def say(self, text: str) -> None:
        if self.display is not None:
            await self.display.say(text)

    async def dispense_card(self) -> None:
        if self.dispenser is None:
            _LOGGER.warning("lane %s: no dispenser; the booth must hand out a card", self.lane_id)
            self.submit(DispenserFailed("no dispenser"), time.perf_counter())
            return
        try:
            await self.dispenser.issue()
        except Exception as err:
            self.submit(DispenserFailed(f"dispenser refused: {err}"), time.perf_counter())
