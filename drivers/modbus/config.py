"""The Modbus drivers' own configuration (drivers import nothing of ours).

The edge's site model (``edge.site.model``) uses :class:`IoMap` and :class:`IoPoint` as they are, so a site file's
``io_map`` is read straight into them; their checks raise :class:`ModbusConfigError`, a ``ValueError``, which the
site loader reports at the key path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from drivers.modbus.errors import ModbusConfigError, ModbusError

Addressing = Literal["bits", "registers"]
INPUT_POINTS = ("open_limit", "closed_limit", "fault", "obstacle", "arming_loop", "safety_loop")
OUTPUT_POINTS = ("open", "close", "hold_open")


@dataclass(frozen=True, slots=True)
class ModbusLink:
    """Where the bus is: a serial port (``/dev/ttyUSB0``, ``COM3``), ``socket://host:port`` for RTU over TCP (a serial
    server), or ``tcp://host:port`` for Modbus TCP (MBAP framing)."""

    url: str
    baudrate: int = 9600
    parity: Literal["N", "E", "O"] = "N"
    bytesize: int = 8
    stopbits: int = 1
    timeout_ms: int = 200

    @property
    def kind(self) -> Literal["serial", "rtu-over-tcp", "modbus-tcp"]:
        if self.url.startswith("socket://"):
            return "rtu-over-tcp"
        if self.url.startswith("tcp://"):
            return "modbus-tcp"
        return "serial"

    def host_port(self) -> tuple[str, int]:
        """Host and port of a ``socket://`` or ``tcp://`` URL."""
        rest = self.url.split("://", 1)[1].rstrip("/")
        host, _, port = rest.rpartition(":")
        if not host or not port.isascii() or not port.isdigit():
            raise ModbusError(f"bad network URL {self.url!r}, expected scheme://host:port")
        return host.strip("[]"), int(port)

    def wire_seconds(self, n_bytes: int) -> float:
        """Time ``n_bytes`` take on the serial line (start + data + parity + stop bits); 0 over TCP."""
        if self.kind != "serial":
            return 0.0
        bits = 1 + self.bytesize + (0 if self.parity == "N" else 1) + self.stopbits
        return n_bytes * bits / self.baudrate


@dataclass(frozen=True, slots=True)
class IoPoint:
    """A coil / discrete input address, or (``addressing="registers"``) a register and a bit in it."""

    address: int
    bit: int | None = None
    active_low: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.address <= 0xFFFF:
            raise ModbusConfigError(f"address {self.address} is not in 0..65535")
        if self.bit is not None and not 0 <= self.bit <= 15:
            raise ModbusConfigError(f"bit {self.bit} is not in 0..15")


@dataclass(frozen=True, slots=True)
class IoMap:
    """Outputs (dry contacts to the barrier controller) and inputs (limits, fault, obstacle, loops)."""

    open: IoPoint | None = None
    close: IoPoint | None = None
    hold_open: IoPoint | None = None
    pulse_ms: int = 500
    open_limit: IoPoint | None = None
    closed_limit: IoPoint | None = None
    fault: IoPoint | None = None
    obstacle: IoPoint | None = None
    arming_loop: IoPoint | None = None
    safety_loop: IoPoint | None = None

    def __post_init__(self) -> None:
        if not 50 <= self.pulse_ms <= 5000:
            raise ModbusConfigError(f"pulse_ms {self.pulse_ms} is not in 50..5000")

    def inputs(self) -> dict[str, IoPoint]:
        return {name: p for name in INPUT_POINTS if (p := getattr(self, name)) is not None}

    def outputs(self) -> dict[str, IoPoint]:
        return {name: p for name in OUTPUT_POINTS if (p := getattr(self, name)) is not None}

    def check(self, addressing: Addressing) -> None:
        """Registers addressing needs a bit on every point; bits addressing must not have one."""
        for name, point in {**self.inputs(), **self.outputs()}.items():
            if addressing == "registers" and point.bit is None:
                raise ModbusConfigError(f"I/O point {name} needs a bit with register addressing")
            if addressing == "bits" and point.bit is not None:
                raise ModbusConfigError(f"I/O point {name} has a bit but addressing is 'bits'")
        outputs = [(p.address, p.bit) for p in self.outputs().values()]
        if len(set(outputs)) != len(outputs):
            raise ModbusConfigError("two outputs share one coil or register bit")


DEFAULT_IO_MAP = IoMap(
    open=IoPoint(0),
    close=IoPoint(1),
    hold_open=IoPoint(2),
    open_limit=IoPoint(0),
    closed_limit=IoPoint(1),
    arming_loop=IoPoint(2),
    safety_loop=IoPoint(3),
    fault=IoPoint(4),
    obstacle=IoPoint(5),
)


@dataclass(frozen=True, slots=True)
class ModbusIoConfig:
    """One digital I/O module on a bus, driving one barrier and reading its loops."""

    name: str
    link: ModbusLink
    io_map: IoMap = DEFAULT_IO_MAP
    unit_id: int = 1
    poll_interval_ms: int = 20
    addressing: Addressing = "bits"
    offline_after_failures: int = 2

    def __post_init__(self) -> None:
        if not 0 <= self.unit_id <= 247 or self.poll_interval_ms < 1:
            raise ModbusConfigError(f"bad Modbus settings: unit {self.unit_id}, poll {self.poll_interval_ms} ms")
        self.io_map.check(self.addressing)


@dataclass(frozen=True, slots=True)
class LoopDetectorConfig:
    """An LD120-style loop detector on the bus; ``channels`` maps each loop role to a detector channel (1, 2)."""

    name: str
    link: ModbusLink
    unit_id: int = 1
    poll_interval_ms: int = 50
    channels: Mapping[str, int] = field(default_factory=lambda: {"arming_loop": 1, "safety_loop": 2})
    offline_after_failures: int = 2

    def __post_init__(self) -> None:
        for role, channel in self.channels.items():
            if role not in ("arming_loop", "safety_loop") or channel not in (1, 2):
                raise ModbusConfigError(f"bad loop channel mapping {role} -> {channel}")
