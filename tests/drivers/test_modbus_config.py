"""The driver's own config, built from the site file's plain data the way the edge will."""

from __future__ import annotations

from pathlib import Path

import pytest

from drivers.modbus import IoMap, IoPoint, ModbusError, ModbusIoConfig, ModbusLink
from drivers.serial_line.link import LineLinkConfig
from parking.site import load_site

CONFIG = Path(__file__).resolve().parents[2] / "config"


def test_every_modbus_device_of_the_example_site_maps_onto_driver_config() -> None:
    site = load_site(CONFIG / "riverside.toml")
    built = {}
    for name, device in site.devices.items():
        if device.driver != "modbus_io":
            continue
        assert device.io_map is not None
        modbus = device.modbus.model_dump() if device.modbus else {}
        built[name] = ModbusIoConfig(
            name,
            ModbusLink.from_connection(device.connection.model_dump()),
            io_map=IoMap.from_dict(device.io_map.model_dump()),
            unit_id=modbus.get("unit_id", 1),
            poll_interval_ms=modbus.get("poll_interval_ms", 20),
            addressing=modbus.get("addressing", "bits"),
        )
    north = built["north-in-io"]
    assert north.link == ModbusLink("/dev/ttyUSB0", baudrate=19200, parity="E")
    assert north.io_map.hold_open == IoPoint(2)
    east = built["east-out-io"]
    assert east.link.url == "socket://192.0.2.40:4001"
    assert east.link.kind == "rtu-over-tcp"
    assert east.io_map.close == IoPoint(100, bit=1)


def test_bad_maps_are_refused() -> None:
    with pytest.raises(ModbusError, match="needs a bit"):
        ModbusIoConfig("x", ModbusLink("/dev/null"), io_map=IoMap(open=IoPoint(1)), addressing="registers")
    with pytest.raises(ModbusError, match="share"):
        ModbusIoConfig("x", ModbusLink("/dev/null"), io_map=IoMap(open=IoPoint(1), close=IoPoint(1)))
    with pytest.raises(ModbusError, match="unknown I/O map keys"):
        IoMap.from_dict({"opne": {"address": 1}})


def test_wire_time_counts_start_parity_and_stop_bits() -> None:
    assert ModbusLink("/dev/ttyS0", baudrate=9600).wire_seconds(96) == pytest.approx(0.1)
    assert ModbusLink("/dev/ttyS0", baudrate=9600, parity="E").wire_seconds(96) == pytest.approx(0.11)
    assert ModbusLink("tcp://10.0.0.1:502").wire_seconds(96) == 0


def test_line_devices_map_too() -> None:
    link = LineLinkConfig.from_connection("d", {"type": "serial", "port": "/dev/ttyUSB3", "baudrate": 19200})
    assert (link.url, link.baudrate) == ("/dev/ttyUSB3", 19200)
    assert LineLinkConfig.from_connection("d", {"type": "tcp", "host": "h", "port": 4002}).url == "socket://h:4002"
