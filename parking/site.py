"""The site file: one TOML file per car park, describing its lanes, devices and tariffs.

Loading happens in two steps. The pydantic models check the shape (types, unknown keys, ranges); then
:func:`check_site` checks what crosses sections (device references, shared devices and serial ports, tariff files,
time zone, currency). Every problem is reported with the key path it sits at (``lanes[2].devices.camera``) so the
installer can find it, and all problems are reported at once.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from parking.money import is_currency
from parking.site_network import HttpListenConnection as HttpListenConnection
from parking.site_network import MqttConnection as MqttConnection
from parking.site_network import connection_problems

IDENTIFIER = r"^[a-z0-9][a-z0-9_-]{0,63}$"
Identifier = Annotated[str, Field(pattern=IDENTIFIER)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DeviceKind(StrEnum):
    BARRIER_IO = "barrier_io"
    LOOP_DETECTOR = "loop_detector"
    PLATE_CAMERA = "plate_camera"
    CARD_READER = "card_reader"
    DISPLAY = "display"
    SNAPSHOT_CAMERA = "snapshot_camera"
    CARD_DISPENSER = "card_dispenser"
    RECEIPT_PRINTER = "receipt_printer"


# Which drivers can run which kind of device.
DRIVERS_BY_KIND: dict[DeviceKind, frozenset[str]] = {
    DeviceKind.BARRIER_IO: frozenset({"modbus_io"}),
    DeviceKind.LOOP_DETECTOR: frozenset({"modbus_io", "modbus_ld"}),
    DeviceKind.PLATE_CAMERA: frozenset({"hikvision_isapi", "json_http", "json_mqtt"}),
    DeviceKind.CARD_READER: frozenset({"osdp", "wiegand_rs485"}),
    DeviceKind.DISPLAY: frozenset({"serial_text"}),
    DeviceKind.SNAPSHOT_CAMERA: frozenset({"opencv"}),
    DeviceKind.CARD_DISPENSER: frozenset({"serial_dispenser"}),
    DeviceKind.RECEIPT_PRINTER: frozenset({"escpos"}),
}

# Which kinds of device may fill each slot of a lane.
SLOT_KINDS: dict[str, frozenset[DeviceKind]] = {
    "barrier": frozenset({DeviceKind.BARRIER_IO}),
    "loops": frozenset({DeviceKind.BARRIER_IO, DeviceKind.LOOP_DETECTOR}),
    "camera": frozenset({DeviceKind.PLATE_CAMERA}),
    "rear_camera": frozenset({DeviceKind.PLATE_CAMERA}),
    "card_reader": frozenset({DeviceKind.CARD_READER}),
    "display": frozenset({DeviceKind.DISPLAY}),
    "snapshot": frozenset({DeviceKind.SNAPSHOT_CAMERA}),
    "dispenser": frozenset({DeviceKind.CARD_DISPENSER}),
    "printer": frozenset({DeviceKind.RECEIPT_PRINTER}),
}


class SerialConnection(Strict):
    """A serial line (RS-232 or RS-485 through an adapter), or a serial server reached by ``socket://host:port``."""

    type: Literal["serial"] = "serial"
    port: str = Field(min_length=1)
    baudrate: Literal[1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200] = 9600
    parity: Literal["N", "E", "O"] = "N"
    bytesize: Literal[7, 8] = 8
    stopbits: Literal[1, 2] = 1
    timeout_ms: int = Field(default=200, ge=10, le=10_000)


class TcpConnection(Strict):
    type: Literal["tcp"]
    host: str = Field(min_length=1)
    port: int = Field(ge=1, le=65535)


class UrlConnection(Strict):
    """A stream or file a frame can be grabbed from: ``rtsp://``, ``http(s)://``, ``v4l2:///dev/video0``, ``file:``."""

    type: Literal["url"]
    url: str = Field(pattern=r"^(rtsp|https?|v4l2|file):")
    timeout_ms: int = Field(default=2000, ge=100, le=30_000)


Connection = Annotated[
    SerialConnection | TcpConnection | HttpListenConnection | MqttConnection | UrlConnection,
    Field(discriminator="type"),
]


class ModbusSettings(Strict):
    unit_id: int = Field(default=1, ge=1, le=247)
    poll_interval_ms: int = Field(default=20, ge=5, le=5000)
    # coils/discrete inputs (function codes 01/02/05/0F) or registers (03/04/06) for clones that use them
    addressing: Literal["bits", "registers"] = "bits"


class IoPoint(Strict):
    """One I/O point: a coil or discrete input address (or a register and bit for register-addressed clones)."""

    address: int = Field(ge=0, le=65535)
    bit: int | None = Field(default=None, ge=0, le=15)
    active_low: bool = False


class IoMap(Strict):
    """Which I/O point does what. Outputs drive the barrier's dry contacts; inputs read limits and loops."""

    open: IoPoint | None = None
    close: IoPoint | None = None
    hold_open: IoPoint | None = None
    pulse_ms: int = Field(default=500, ge=50, le=5000)
    open_limit: IoPoint | None = None
    closed_limit: IoPoint | None = None
    fault: IoPoint | None = None
    obstacle: IoPoint | None = None
    arming_loop: IoPoint | None = None
    safety_loop: IoPoint | None = None


class Device(Strict):
    kind: DeviceKind
    driver: str
    connection: Connection
    modbus: ModbusSettings | None = None
    io_map: IoMap | None = None
    field_map: str | dict[str, str] | None = None
    camera_id: str | None = None
    secure_channel: bool = True
    scbk_env: str | None = Field(default=None, description="environment variable holding the OSDP secure channel key")
    address: int | None = Field(default=None, ge=0, le=126, description="OSDP peripheral address")
    description: str = ""


class LaneDevices(Strict):
    barrier: str | Device | None = None
    loops: str | Device | None = None
    camera: str | Device | None = None
    rear_camera: str | Device | None = None
    card_reader: str | Device | None = None
    display: str | Device | None = None
    snapshot: str | Device | None = None
    dispenser: str | Device | None = None
    printer: str | Device | None = None


class Direction(StrEnum):
    ENTRY = "entry"
    EXIT = "exit"


class LaneMode(StrEnum):
    ATTENDED = "attended"
    UNATTENDED = "unattended"


class Lane(Strict):
    id: Identifier
    name: str = ""
    direction: Direction
    mode: LaneMode = LaneMode.ATTENDED
    tariff: str | None = None
    devices: LaneDevices
    plate_confidence_min: float = Field(default=0.7, ge=0.0, le=1.0)
    read_window_ms: int = Field(default=3000, ge=100, le=60_000)
    repeat_window_ms: int = Field(default=10_000, ge=0, le=600_000)  # a decided plate read again: a repeat
    back_out_settle_ms: int = Field(default=500, ge=0, le=5_000)  # arming clear without safety: backed out
    free_vehicles: Literal["automatic", "operator"] = "automatic"
    anti_passback: Literal["hard", "soft", "off"] = "soft"
    ticketless: bool = True


class CarPark(Strict):
    id: Identifier
    name: str = Field(min_length=1)
    timezone: str
    currency: str
    capacity: dict[Identifier, Annotated[int, Field(ge=0)]] = Field(min_length=1)


class TariffRef(Strict):
    file: str = Field(min_length=1)


class Journal(Strict):
    path: str = Field(min_length=1)


class Central(Strict):
    url: str = Field(pattern=r"^https?://")
    edge_id: Identifier
    token: str | None = None
    token_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")

    def resolve_token(self) -> str | None:
        """The edge's credential: given inline or, preferably, named by an environment variable."""
        if self.token_env:
            return os.environ.get(self.token_env)
        return self.token


class PayStation(Strict):
    """A kiosk in the car park that quotes and takes fees through the edge's kiosk API (its own card terminal)."""

    name: str = ""
    token: str | None = Field(default=None, min_length=16)
    token_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")

    @model_validator(mode="after")
    def _has_credential(self) -> PayStation:
        if not self.token and not self.token_env:
            raise ValueError("a pay station needs token_env (or token): the kiosk API refuses unauthenticated kiosks")
        return self

    def resolve_token(self) -> str | None:
        """The kiosk's credential: given inline or, preferably, named by an environment variable."""
        if self.token_env:
            return os.environ.get(self.token_env)
        return self.token


class Console(Strict):
    listen: str = Field(default="127.0.0.1:8700", pattern=r"^[^:\s]+:\d{1,5}$")


class SiteConfig(Strict):
    car_park: CarPark
    journal: Journal
    central: Central | None = None
    console: Console = Console()
    pay_stations: dict[Identifier, PayStation] = {}
    tariffs: dict[Identifier, TariffRef] = {}
    devices: dict[Identifier, Device] = {}
    lanes: list[Lane] = Field(min_length=1)

    @field_validator("lanes")
    @classmethod
    def _unique_lane_ids(cls, lanes: list[Lane]) -> list[Lane]:
        seen: set[str] = set()
        for lane in lanes:
            if lane.id in seen:
                raise ValueError(f"lane id {lane.id!r} is used twice")
            seen.add(lane.id)
        return lanes


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a site file, at a key path such as ``lanes[2].devices.camera``."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class SiteError(Exception):
    """The site file cannot be used; ``problems`` lists every reason."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(str(p) for p in problems))


def key_path(loc: Iterable[int | str]) -> str:
    """Turn a location tuple like ``('lanes', 2, 'devices')`` into ``lanes[2].devices``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


_CONNECTION_TAGS = frozenset({"serial", "tcp", "http_listen", "mqtt", "url"})


def _clean_loc(loc: tuple[int | str, ...]) -> tuple[list[int | str], str | None]:
    """Drop the union branch names pydantic puts in a location; return the key path and the branch taken."""
    out: list[int | str] = []
    branch = None
    for i, part in enumerate(loc):
        if isinstance(part, str) and (part in ("str", "Device") or (part[:1].isupper() and "[" not in part)):
            branch = part
            continue
        if isinstance(part, str) and part in _CONNECTION_TAGS and i > 0 and loc[i - 1] == "connection":
            continue
        out.append(part)
    return out, branch


def _pydantic_problems(err: ValidationError) -> list[Problem]:
    items = err.errors()
    # For "a device name or an inline device" slots, report the branch the user evidently meant.
    inline_paths = {key_path(_clean_loc(i["loc"])[0][:4]) for i in items if _clean_loc(i["loc"])[1] == "Device"}
    problems = []
    for item in items:
        loc, branch = _clean_loc(item["loc"])
        path = key_path(loc)
        if branch == "str" and path in inline_paths and isinstance(item.get("input"), dict):
            continue
        if branch == "Device" and isinstance(item.get("input"), str):
            continue
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown key"
        elif item["type"] == "missing":
            message = "required key is missing"
        elif item["type"] in ("union_tag_invalid", "literal_error", "enum"):
            message = f"{message}, got {item.get('input')!r}"
        problems.append(Problem(path, message))
    unique: dict[tuple[str, str], Problem] = {}
    for p in problems:
        unique.setdefault((p.path, p.message), p)
    return list(unique.values())


@dataclass(frozen=True, slots=True)
class ResolvedDevice:
    """A device as a lane sees it, whether declared under ``[devices]`` or inline in the lane."""

    id: str
    path: str
    device: Device


def lane_devices(site: SiteConfig, lane_index: int) -> dict[str, ResolvedDevice]:
    """The devices of one lane by slot, with references resolved (unknown references are left out)."""
    lane = site.lanes[lane_index]
    out: dict[str, ResolvedDevice] = {}
    for slot in SLOT_KINDS:
        value = getattr(lane.devices, slot)
        if value is None:
            continue
        if isinstance(value, str):
            if value in site.devices:
                out[slot] = ResolvedDevice(value, f"devices.{value}", site.devices[value])
        else:
            out[slot] = ResolvedDevice(f"{lane.id}.{slot}", f"lanes[{lane_index}].devices.{slot}", value)
    return out


def check_site(site: SiteConfig, base_dir: Path) -> list[Problem]:
    """Cross-section checks the models cannot express; returns every problem found (empty when the site is sound)."""
    problems: list[Problem] = []
    try:
        ZoneInfo(site.car_park.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(
            Problem(
                "car_park.timezone",
                f"unknown time zone {site.car_park.timezone!r} (use an IANA name such as Asia/Shanghai)",
            )
        )
    if not is_currency(site.car_park.currency):
        problems.append(
            Problem(
                "car_park.currency", f"unknown currency {site.car_park.currency!r} (use an ISO 4217 code such as CNY)"
            )
        )
    for name, ref in site.tariffs.items():
        path = (base_dir / ref.file).resolve()
        if not path.is_file():
            problems.append(Problem(f"tariffs.{name}.file", f"tariff file {ref.file!r} not found (looked at {path})"))
            continue
        from parking.tariff import TariffFileError, load_tariff  # the engine is loaded only for sites with tariffs

        try:
            tariff = load_tariff(path)
        except TariffFileError as err:
            problems += [Problem(f"tariffs.{name}.file", f"{ref.file}: {problem}") for problem in err.problems]
            continue
        for key, own, park in (
            ("currency", tariff.currency, site.car_park.currency),
            ("timezone", tariff.timezone, site.car_park.timezone),
        ):
            # compare only with a car park value that is itself valid (a wrong one is reported already)
            if own != park and all(p.path != f"car_park.{key}" for p in problems):
                problems.append(
                    Problem(f"tariffs.{name}.file", f"{ref.file}: the tariff's {key} is {own}, the car park's {park}")
                )
    for name, device in site.devices.items():
        problems += _device_problems(f"devices.{name}", device, base_dir)

    users: dict[str, tuple[str, str]] = {}  # device id -> (lane id, slot path) of its first user
    all_devices: list[ResolvedDevice] = [ResolvedDevice(n, f"devices.{n}", d) for n, d in site.devices.items()]
    for index, lane in enumerate(site.lanes):
        lane_path = f"lanes[{index}]"
        if lane.tariff is None and lane.direction is Direction.EXIT:
            problems.append(Problem(f"{lane_path}.tariff", "an exit lane needs a tariff to charge temporary vehicles"))
        elif lane.tariff is not None and lane.tariff not in site.tariffs:
            problems.append(
                Problem(
                    f"{lane_path}.tariff",
                    f"unknown tariff {lane.tariff!r}; declared tariffs: {', '.join(sorted(site.tariffs)) or 'none'}",
                )
            )
        if lane.devices.barrier is None:
            problems.append(Problem(f"{lane_path}.devices.barrier", "every lane needs a barrier"))
        for slot, kinds in SLOT_KINDS.items():
            value = getattr(lane.devices, slot)
            slot_path = f"{lane_path}.devices.{slot}"
            if value is None:
                continue
            if isinstance(value, str):
                if value not in site.devices:
                    problems.append(
                        Problem(
                            slot_path,
                            f"unknown device {value!r}; declared devices: {', '.join(sorted(site.devices)) or 'none'}",
                        )
                    )
                    continue
                device_id, device = value, site.devices[value]
            else:
                device_id, device = f"{lane.id}.{slot}", value
                problems += _device_problems(slot_path, device, base_dir)
                all_devices.append(ResolvedDevice(device_id, slot_path, device))
            if device.kind not in kinds:
                problems.append(
                    Problem(
                        slot_path,
                        f"device {device_id!r} is a {device.kind.value}; slot {slot!r} "
                        f"takes {' or '.join(sorted(k.value for k in kinds))}",
                    )
                )
            first = users.get(device_id)
            if first is not None and first[0] != lane.id:
                problems.append(
                    Problem(
                        slot_path,
                        f"device {device_id!r} is already used by lane {first[0]!r} "
                        f"({first[1]}); a device serves one lane",
                    )
                )
            else:
                users.setdefault(device_id, (lane.id, slot_path))
    problems += _serial_port_problems(all_devices)
    return problems


def _device_problems(path: str, device: Device, base_dir: Path) -> list[Problem]:
    problems = []
    if device.kind is DeviceKind.PLATE_CAMERA and isinstance(device.connection, HttpListenConnection | MqttConnection):
        problems += [Problem(at, message) for at, message in connection_problems(path, device.connection, base_dir)]
    allowed = DRIVERS_BY_KIND[device.kind]
    if device.driver not in allowed:
        problems.append(
            Problem(
                f"{path}.driver",
                f"unknown driver {device.driver!r} for a {device.kind.value}; known: {', '.join(sorted(allowed))}",
            )
        )
    conn = device.connection.type
    wanted = {
        "modbus_io": {"serial", "tcp"},
        "modbus_ld": {"serial", "tcp"},
        "hikvision_isapi": {"http_listen"},
        "json_http": {"http_listen"},
        "json_mqtt": {"mqtt"},
        "osdp": {"serial", "tcp"},
        "wiegand_rs485": {"serial", "tcp"},
        "serial_text": {"serial", "tcp"},
        "opencv": {"url"},
        "serial_dispenser": {"serial", "tcp"},
        "escpos": {"serial", "tcp"},
    }.get(device.driver)
    if wanted is not None and conn not in wanted:
        problems.append(
            Problem(
                f"{path}.connection.type",
                f"driver {device.driver!r} connects over {' or '.join(sorted(wanted))}, not {conn!r}",
            )
        )
    if device.driver in ("modbus_io", "modbus_ld") and device.modbus is None:
        problems.append(Problem(f"{path}.modbus", "a Modbus device needs [modbus] with its unit_id"))
    if device.driver == "modbus_io" and device.io_map is None:
        problems.append(Problem(f"{path}.io_map", "a Modbus I/O module needs an io_map saying which point does what"))
    if device.io_map is not None and device.kind is DeviceKind.BARRIER_IO and device.io_map.open is None:
        problems.append(Problem(f"{path}.io_map.open", "a barrier needs an open output"))
    if device.driver == "json_mqtt" and device.field_map is None:
        problems.append(Problem(f"{path}.field_map", 'a JSON camera needs a field_map ("milesight" or a table)'))
    return problems


def _serial_port_problems(devices: list[ResolvedDevice]) -> list[Problem]:
    """A serial port is owned by one device, except an RS-485 Modbus bus shared by units with distinct ids."""
    problems = []
    by_port: dict[str, list[ResolvedDevice]] = {}
    for rd in devices:
        if isinstance(rd.device.connection, SerialConnection):
            by_port.setdefault(rd.device.connection.port, []).append(rd)
    for port, users in by_port.items():
        first = users[0]
        for other in users[1:]:
            shared_bus = all(u.device.driver in ("modbus_io", "modbus_ld") for u in (first, other))
            if not shared_bus:
                problems.append(
                    Problem(
                        f"{other.path}.connection.port",
                        f"serial port {port!r} is given twice "
                        f"(also {first.path}); only Modbus units may share an RS-485 bus",
                    )
                )
                continue
            fc, oc = first.device.connection, other.device.connection
            assert isinstance(fc, SerialConnection)
            assert isinstance(oc, SerialConnection)
            if (fc.baudrate, fc.parity, fc.bytesize, fc.stopbits) != (oc.baudrate, oc.parity, oc.bytesize, oc.stopbits):
                problems.append(
                    Problem(
                        f"{other.path}.connection",
                        f"Modbus bus {port!r} is shared with {first.path} but with different line settings",
                    )
                )
            fu = first.device.modbus.unit_id if first.device.modbus else None
            ou = other.device.modbus.unit_id if other.device.modbus else None
            if fu is not None and fu == ou:
                problems.append(
                    Problem(
                        f"{other.path}.modbus.unit_id",
                        f"Modbus unit id {ou} is used twice on bus {port!r} (also {first.path})",
                    )
                )
    return problems


def load_site(path: str | Path) -> SiteConfig:
    """Read, validate and cross-check a site file; raise :class:`SiteError` with every problem found."""
    path = Path(path)
    source = str(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise SiteError(source, [Problem("", f"cannot read the site file: {err.strerror or err}")]) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise SiteError(source, [Problem("", f"not UTF-8 text (byte {err.start})")]) from None
    except tomllib.TOMLDecodeError as err:
        raise SiteError(source, [Problem("", f"TOML syntax error: {err}")]) from None
    try:
        site = SiteConfig.model_validate(data)
    except ValidationError as err:
        raise SiteError(source, _pydantic_problems(err)) from None
    problems = check_site(site, path.parent)
    if problems:
        raise SiteError(source, problems)
    return site


def tariff_path(site: SiteConfig, site_file: Path, name: str) -> Path:
    """Where the tariff ``name`` of a site lives (tariff files are relative to the site file)."""
    return (site_file.parent / site.tariffs[name].file).resolve()


def summary(site: SiteConfig) -> str:
    """One paragraph describing the car park, for ``parkgate config check``."""
    lanes = site.lanes
    entries = [lane for lane in lanes if lane.direction is Direction.ENTRY]
    exits = [lane for lane in lanes if lane.direction is Direction.EXIT]
    unattended = [lane.id for lane in lanes if lane.mode is LaneMode.UNATTENDED]
    capacity = ", ".join(f"{n} {cls}" for cls, n in site.car_park.capacity.items())
    inline = sum(isinstance(getattr(lane.devices, s), Device) for lane in lanes for s in SLOT_KINDS)
    kinds = sorted({d.kind.value for d in site.devices.values()})
    central = f"reports to {site.central.url} as {site.central.edge_id}" if site.central else "runs without central"
    return (
        f"Car park {site.car_park.id} ({site.car_park.name}), time zone {site.car_park.timezone}, "
        f"currency {site.car_park.currency}, capacity {capacity}. "
        f"{len(lanes)} lanes: {len(entries)} entry ({', '.join(lane.id for lane in entries) or '-'}), "
        f"{len(exits)} exit ({', '.join(lane.id for lane in exits) or '-'})"
        f"{', unattended: ' + ', '.join(unattended) if unattended else ''}. "
        f"{len(site.devices) + inline} devices ({', '.join(kinds) or 'inline only'}), "
        f"{len(site.tariffs)} tariffs ({', '.join(sorted(site.tariffs)) or '-'}). "
        f"Journal at {site.journal.path}; {central}."
    )
