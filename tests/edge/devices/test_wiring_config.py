"""The site file's devices as the drivers' own configuration: the I/O map is the driver's type as read, and the
connections map onto the Modbus and line-protocol links."""

from __future__ import annotations

from pathlib import Path

from drivers.modbus import IoPoint, ModbusLink
from edge.devices.wiring import SiteDevices, line_link, modbus_link
from edge.site import Device, load_site

CONFIG = Path(__file__).resolve().parents[3] / "config"


async def test_every_modbus_device_of_the_example_site_becomes_its_driver_config() -> None:
    site = load_site(CONFIG / "riverside.toml")
    devices = SiteDevices()
    built = {
        name: devices.io_module(name, device).config for name, device in site.devices.items()
        if device.driver == "modbus_io"
    }  # fmt: skip
    north = built["north-in-io"]
    assert north.link == ModbusLink("/dev/ttyUSB0", baudrate=19200, parity="E")
    assert north.io_map is site.devices["north-in-io"].io_map  # read straight into the driver's type
    assert north.io_map.hold_open == IoPoint(2)
    east = built["east-out-io"]
    assert (east.link.url, east.link.kind, east.addressing, east.unit_id) == (
        "socket://192.0.2.40:4001", "rtu-over-tcp", "registers", 3
    )  # fmt: skip
    assert east.io_map.close == IoPoint(100, bit=1)
    assert len(devices.buses) == 2  # the north units share one RS-485 bus


def test_line_devices_map_too() -> None:
    port = {"type": "serial", "port": "/dev/ttyUSB3", "baudrate": 19200}
    serial = Device.model_validate({"kind": "display", "driver": "serial_text", "connection": port})
    link = line_link("d", serial)
    assert (link.url, link.baudrate, link.timeout_ms) == ("/dev/ttyUSB3", 19200, 200)
    tcp = Device.model_validate({"kind": "display", "driver": "serial_text",
                                 "connection": {"type": "tcp", "host": "h", "port": 4002}})  # fmt: skip
    assert line_link("d", tcp).url == "socket://h:4002"
    assert modbus_link(tcp).url == "socket://h:4002"
