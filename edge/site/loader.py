"""Reading a site file: the models check its shape, :func:`check_site` what crosses sections (device references,
shared devices and serial ports, tariff files, time zone, currency); every problem at its key path, all at once."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError

from drivers.modbus.errors import ModbusConfigError
from edge.site.booths import booth_problems
from edge.site.model import (
    DRIVERS_BY_KIND,
    SLOT_KINDS,
    Central,
    Device,
    DeviceKind,
    Direction,
    LaneMode,
    SerialConnection,
    SiteConfig,
)
from edge.site.network import HttpListenConnection, MqttConnection, connection_problems
from parking.money import is_currency
from parking.tls import ClientTls


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
        if branch == "Device" and isinstance(item.get("input"), str) and item["loc"][-1] == "Device":
            continue  # the slot holds a device name: the inline-device reading of it is not what was meant
        message = item["msg"]
        if item["type"] in ("extra_forbidden", "unexpected_keyword_argument"):  # the latter: a driver's dataclass
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
    problems = _car_park_problems(site)
    problems += _tariff_problems(site, base_dir, problems)
    for name, device in site.devices.items():
        problems += _device_problems(f"devices.{name}", device, base_dir)
    users: dict[str, tuple[str, str]] = {}  # device id -> (lane id, slot path) of its first user
    all_devices: list[ResolvedDevice] = [ResolvedDevice(n, f"devices.{n}", d) for n, d in site.devices.items()]
    for index, lane in enumerate(site.lanes):
        problems += _lane_problems(site, index)
        for slot in SLOT_KINDS:
            value = getattr(lane.devices, slot)
            slot_path = f"lanes[{index}].devices.{slot}"
            if isinstance(value, str) and value not in site.devices:
                declared = ", ".join(sorted(site.devices)) or "none"
                problems.append(Problem(slot_path, f"unknown device {value!r}; declared devices: {declared}"))
            elif isinstance(value, Device):
                problems += _device_problems(slot_path, value, base_dir)
                all_devices.append(ResolvedDevice(f"{lane.id}.{slot}", slot_path, value))
        for slot, used in lane_devices(site, index).items():
            problems += _slot_problems(lane.id, slot, f"lanes[{index}].devices.{slot}", used, users)
    problems += _serial_port_problems(all_devices)
    problems += [Problem(path, message) for path, message in booth_problems(site)]
    if site.central is not None:
        problems += _central_problems(site.central, base_dir)
    return problems


def central_tls(central: Central, base_dir: Path) -> ClientTls | None:
    """The TLS files of ``[central]`` relative to the site file's folder; ``None`` for plain HTTP."""
    if not central.tls:
        return None
    ca, cert, key = (base_dir / f if f else None for f in (central.ca_file, central.cert_file, central.key_file))
    return ClientTls(ca, cert, key)


def _central_problems(central: Central, base_dir: Path) -> list[Problem]:
    """The TLS files exist, are PEM of the right kind, and go together (a certificate with its key)."""
    given = [key for key in ("ca_file", "cert_file", "key_file") if getattr(central, key) is not None]
    if not central.tls:
        return [Problem(f"central.{key}", "TLS files need an https:// url") for key in given]
    tls = central_tls(central, base_dir)
    assert tls is not None
    return [Problem(err.setting, err.message) for err in tls.problems()]


def _car_park_problems(site: SiteConfig) -> list[Problem]:
    problems = []
    try:
        ZoneInfo(site.car_park.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = site.car_park.timezone
        problems.append(
            Problem("car_park.timezone", f"unknown time zone {zone!r} (use an IANA name such as Asia/Shanghai)")
        )
    if not is_currency(site.car_park.currency):
        currency = site.car_park.currency
        problems.append(
            Problem("car_park.currency", f"unknown currency {currency!r} (use an ISO 4217 code such as CNY)")
        )
    return problems


def _tariff_problems(site: SiteConfig, base_dir: Path, park_problems: list[Problem]) -> list[Problem]:
    """Each tariff file loads, in the car park's currency and zone (compared only with valid car park values)."""
    problems: list[Problem] = []
    for name, ref in site.tariffs.items():
        if "\x00" in ref.file:  # no file system takes it (and resolving it raises)
            problems.append(Problem(f"tariffs.{name}.file", "a file name cannot hold a NUL character"))
            continue
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
            if own != park and all(p.path != f"car_park.{key}" for p in park_problems):
                problems.append(
                    Problem(f"tariffs.{name}.file", f"{ref.file}: the tariff's {key} is {own}, the car park's {park}")
                )
    return problems


def _lane_problems(site: SiteConfig, index: int) -> list[Problem]:
    lane, lane_path = site.lanes[index], f"lanes[{index}]"
    problems = []
    if lane.tariff is None and lane.direction is Direction.EXIT:
        problems.append(Problem(f"{lane_path}.tariff", "an exit lane needs a tariff to charge temporary vehicles"))
    elif lane.tariff is not None and lane.tariff not in site.tariffs:
        declared = ", ".join(sorted(site.tariffs)) or "none"
        problems.append(Problem(f"{lane_path}.tariff", f"unknown tariff {lane.tariff!r}; declared tariffs: {declared}"))
    if lane.devices.barrier is None:
        problems.append(Problem(f"{lane_path}.devices.barrier", "every lane needs a barrier"))
    return problems


def _slot_problems(
    lane_id: str, slot: str, slot_path: str, used: ResolvedDevice, users: dict[str, tuple[str, str]]
) -> list[Problem]:
    """The device fits the slot's kinds and serves no other lane (``users`` remembers each device's first lane)."""
    problems = []
    kinds = SLOT_KINDS[slot]
    if used.device.kind not in kinds:
        takes = " or ".join(sorted(k.value for k in kinds))
        problems.append(
            Problem(slot_path, f"device {used.id!r} is a {used.device.kind.value}; slot {slot!r} takes {takes}")
        )
    first = users.get(used.id)
    if first is not None and first[0] != lane_id:
        problems.append(
            Problem(
                slot_path,
                f"device {used.id!r} is already used by lane {first[0]!r} ({first[1]}); a device serves one lane",
            )
        )
    else:
        users.setdefault(used.id, (lane_id, slot_path))
    return problems


# Which connections each driver speaks over.
CONNECTIONS_BY_DRIVER: dict[str, frozenset[str]] = {
    "modbus_io": frozenset({"serial", "tcp"}),
    "modbus_ld": frozenset({"serial", "tcp"}),
    "hikvision_isapi": frozenset({"http_listen"}),
    "json_http": frozenset({"http_listen"}),
    "json_mqtt": frozenset({"mqtt"}),
    "osdp": frozenset({"serial", "tcp"}),
    "wiegand_rs485": frozenset({"serial", "tcp"}),
    "serial_text": frozenset({"serial", "tcp"}),
    "opencv": frozenset({"url"}),
    "serial_dispenser": frozenset({"serial", "tcp"}),
    "escpos": frozenset({"serial", "tcp"}),
}


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
    wanted = CONNECTIONS_BY_DRIVER.get(device.driver)
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
    if device.io_map is not None and device.modbus is not None:
        try:
            device.io_map.check(device.modbus.addressing)
        except ModbusConfigError as err:
            problems.append(Problem(f"{path}.io_map", str(err)))
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
    central = "runs without central"
    if site.central is not None:
        tls = ""
        if site.central.tls:
            trust = f"trusting {site.central.ca_file}" if site.central.ca_file else "trusting the system's CAs"
            tls = f" over TLS ({trust}{', with a client certificate' if site.central.cert_file else ''})"
        central = f"reports to {site.central.url} as {site.central.edge_id}{tls}"
    booths = ", ".join(f"{b} ({', '.join(lanes)})" for b, lanes in site.booth_lanes().items()) if site.booths else ""
    return (
        f"Car park {site.car_park.id} ({site.car_park.name}), time zone {site.car_park.timezone}, "
        f"currency {site.car_park.currency}, capacity {capacity}. "
        f"{len(lanes)} lanes: {len(entries)} entry ({', '.join(lane.id for lane in entries) or '-'}), "
        f"{len(exits)} exit ({', '.join(lane.id for lane in exits) or '-'})"
        f"{', unattended: ' + ', '.join(unattended) if unattended else ''}. "
        f"{len(site.devices) + inline} devices ({', '.join(kinds) or 'inline only'}), "
        f"{len(site.tariffs)} tariffs ({', '.join(sorted(site.tariffs)) or '-'}). "
        f"{'Booths: ' + booths + '. ' if booths else ''}Journal at {site.journal.path}; {central}."
    )
