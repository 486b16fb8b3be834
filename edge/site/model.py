"""The site file's shape: one TOML file per car park, describing its lanes, devices and tariffs.

These pydantic models check types, unknown keys and ranges; :mod:`edge.site.loader` then checks what crosses
sections. Where a driver has its own configuration type (the Modbus I/O map and its points), the model uses that
type itself, so the site file is read straight into what the driver is given.
"""

from __future__ import annotations

import os
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from drivers.modbus.config import IoMap
from edge.site.network import HttpListenConnection, MqttConnection
from parking.privacy import Retention

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
    # a loop that shows presence this long is reported (a stuck detector, or a vehicle that does not move)
    loop_stuck_s: float = Field(default=300.0, ge=1, le=86_400)
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
    # Below this much free space on the journal's disk, temporary vehicles are refused (with a message on the
    # display) so that the space left keeps recording passes, free vehicles, exits and payments.
    reserve_mb: float = Field(default=64.0, ge=0, le=1_000_000)


class RetentionConfig(Strict):
    """How long personal data stays at the edge (``[retention]``): pictures, then plates and card numbers in the
    journal's records. The purge runs every ``every_hours`` in the daemon and by ``parkgate edge purge``."""

    images_days: int = Field(default=30, ge=1, le=3650)
    events_days: int = Field(default=365, ge=1, le=3650)
    every_hours: float = Field(default=24.0, gt=0, le=24 * 31)
    enabled: bool = True

    @model_validator(mode="after")
    def _pictures_go_first(self) -> RetentionConfig:
        if self.images_days > self.events_days:
            raise ValueError(f"images_days ({self.images_days}) must not exceed events_days ({self.events_days}): "
                             "a picture shows the plate the records no longer hold")  # fmt: skip
        return self

    def rule(self) -> Retention:
        return Retention(images_days=self.images_days, events_days=self.events_days)


class Central(Strict):
    """Where the edge reports. With an ``https://`` url, ``ca_file`` is the CA that signed central's certificate
    (default: the system's CAs) and ``cert_file``/``key_file`` the edge's client certificate where central requires
    one. Files are relative to the site file."""

    url: str = Field(pattern=r"^https?://")
    edge_id: Identifier
    token: str | None = Field(default=None, repr=False)  # never in a log line, not even in a repr
    token_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    # the booth is alerted when the outbox has not reached central for this long (the lanes go on alone)
    unreachable_alert_minutes: float = Field(default=5.0, gt=0, le=1440)
    ca_file: str | None = Field(default=None, min_length=1, max_length=4096)
    cert_file: str | None = Field(default=None, min_length=1, max_length=4096)
    key_file: str | None = Field(default=None, min_length=1, max_length=4096)

    @property
    def tls(self) -> bool:
        return self.url.startswith("https://")

    def resolve_token(self) -> str | None:
        """The edge's credential: given inline or, preferably, named by an environment variable."""
        if self.token_env:
            return os.environ.get(self.token_env)
        return self.token


class PayStation(Strict):
    """A kiosk in the car park that quotes and takes fees through the edge's kiosk API (its own card terminal)."""

    name: str = ""
    token: str | None = Field(default=None, min_length=16, repr=False)
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


BOOTH_ID = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$"  # receipt numbers start with it: ``B2-20261127-0003``
DEFAULT_BOOTH = "B1"


class BoothConfig(Strict):
    """A booth (岗亭) and the lanes it staffs: its own shifts, float, temporary cards and shift reports.

    The booth console is served per booth: one booth (without ``console_listen``) on ``[console] listen``, every
    other on its own address, so a console session only ever reaches its own booth's lanes."""

    name: str = ""
    lanes: list[Identifier] = Field(min_length=1)
    console_listen: str | None = Field(default=None, pattern=r"^[^:\s]+:\d{1,5}$")


class SiteConfig(Strict):
    car_park: CarPark
    journal: Journal
    central: Central | None = None
    retention: RetentionConfig = RetentionConfig()
    console: Console = Console()
    booths: dict[Annotated[str, Field(pattern=BOOTH_ID)], BoothConfig] = {}
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

    def booth_lanes(self, default: str = DEFAULT_BOOTH) -> dict[str, list[str]]:
        """Each booth's lanes in the site file's lane order; a site without booths has one, ``default``, over all."""
        if not self.booths:
            return {default: [lane.id for lane in self.lanes]}
        order = {lane.id: index for index, lane in enumerate(self.lanes)}
        return {booth: sorted(config.lanes, key=lambda lane: order.get(lane, len(order)))
                for booth, config in self.booths.items()}  # fmt: skip
