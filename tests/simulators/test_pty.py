"""The simulated serial cable: bytes cross both ways, paced at the baud rate, and unplugging is felt."""

from __future__ import annotations

import os
import time

import pytest
import serial

from simulators.pty import PtyLink


def test_bytes_cross_both_ways_unchanged() -> None:
    with PtyLink("bus") as link:
        host = serial.Serial(link.host_port, 9600, timeout=1)
        device = serial.Serial(link.device_port, 9600, timeout=1)
        frame = bytes(range(256))  # every byte value, CR, LF and XON/XOFF included: the line is raw
        host.write(frame)
        assert device.read(len(frame)) == frame
        device.write(b"\x01\x03\x02\x00\x01\x79\x84")
        assert host.read(7) == b"\x01\x03\x02\x00\x01\x79\x84"
        assert (link.bytes_to_device, link.bytes_to_host) == (256, 7)
        host.close()
        device.close()


def test_baud_rate_paces_the_bytes() -> None:
    with PtyLink("slow", baudrate=9600) as link:
        host = serial.Serial(link.host_port, timeout=2)
        device = serial.Serial(link.device_port, timeout=2)
        started = time.perf_counter()
        host.write(b"\x55" * 96)  # 96 bytes x 10 bits at 9600 baud = 100 ms on the wire
        assert device.read(96) == b"\x55" * 96
        assert time.perf_counter() - started >= 0.09
        host.close()
        device.close()


def test_unplug_is_felt_and_replug_restores_the_same_path() -> None:
    with PtyLink("usb") as link:
        host = serial.Serial(link.host_port, timeout=0.5)
        link.unplug()
        assert not os.path.exists(link.host_port)
        with pytest.raises(serial.SerialException):
            host.read(1)
        host.close()
        link.replug()
        host = serial.Serial(link.host_port, timeout=1)
        device = serial.Serial(link.device_port, timeout=1)
        host.write(b"again")
        assert device.read(5) == b"again"
        host.close()
        device.close()
