"""Modbus drivers: a digital I/O module for a barrier and its loops, and an LD120-style loop detector.

The edge builds a :class:`ModbusBus` per serial port (devices on one RS-485 line share it), then one
:class:`ModbusIoModule` or :class:`ModbusLoopDetector` per device, adds a listener and starts it.
"""

from drivers.modbus.bus import ModbusBus
from drivers.modbus.config import DEFAULT_IO_MAP, IoMap, IoPoint, LoopDetectorConfig, ModbusIoConfig, ModbusLink
from drivers.modbus.errors import (
    ModbusConfigError,
    ModbusError,
    ModbusExceptionResponseError,
    ModbusProtocolError,
    ModbusTimeoutError,
    ModbusTransportError,
    SafetyInterlockError,
)
from drivers.modbus.events import (
    BarrierChanged,
    BarrierCommand,
    BarrierPosition,
    BarrierStatus,
    CloseBarrier,
    HoldOpen,
    LoopChanged,
    LoopRole,
    ModbusEvent,
    OpenBarrier,
    VehicleCounted,
)
from drivers.modbus.io_module import ModbusIoModule
from drivers.modbus.loop_detector import ModbusLoopDetector

__all__ = [
    "DEFAULT_IO_MAP",
    "BarrierChanged",
    "BarrierCommand",
    "BarrierPosition",
    "BarrierStatus",
    "CloseBarrier",
    "HoldOpen",
    "IoMap",
    "IoPoint",
    "LoopChanged",
    "LoopDetectorConfig",
    "LoopRole",
    "ModbusBus",
    "ModbusConfigError",
    "ModbusError",
    "ModbusEvent",
    "ModbusExceptionResponseError",
    "ModbusIoConfig",
    "ModbusIoModule",
    "ModbusLink",
    "ModbusLoopDetector",
    "ModbusProtocolError",
    "ModbusTimeoutError",
    "ModbusTransportError",
    "OpenBarrier",
    "SafetyInterlockError",
    "VehicleCounted",
]
