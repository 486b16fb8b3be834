"""The Modbus drivers' own configuration checks (the edge's site model reads ``io_map`` straight into these types)."""

from __future__ import annotations

import pytest

from drivers.modbus import IoMap, IoPoint, ModbusConfigError, ModbusIoConfig, ModbusLink


def test_bad_maps_are_refused() -> None:
    with pytest.raises(ModbusConfigError, match="needs a bit"):
        ModbusIoConfig("x", ModbusLink("/dev/null"), io_map=IoMap(open=IoPoint(1)), addressing="registers")
    with pytest.raises(ModbusConfigError, match="share"):
        ModbusIoConfig("x", ModbusLink("/dev/null"), io_map=IoMap(open=IoPoint(1), close=IoPoint(1)))
    with pytest.raises(ModbusConfigError, match=r"address 65536 is not in 0\.\.65535"):
        IoPoint(65536)
    with pytest.raises(ModbusConfigError, match=r"bit 16 is not in 0\.\.15"):
        IoPoint(1, bit=16)
    with pytest.raises(ModbusConfigError, match=r"pulse_ms 10 is not in 50\.\.5000"):
        IoMap(pulse_ms=10)


def test_config_errors_are_value_errors_so_a_site_loader_reports_them() -> None:
    assert issubclass(ModbusConfigError, ValueError)


def test_wire_time_counts_start_parity_and_stop_bits() -> None:
    assert ModbusLink("/dev/ttyS0", baudrate=9600).wire_seconds(96) == pytest.approx(0.1)
    assert ModbusLink("/dev/ttyS0", baudrate=9600, parity="E").wire_seconds(96) == pytest.approx(0.11)
    assert ModbusLink("tcp://10.0.0.1:502").wire_seconds(96) == 0
