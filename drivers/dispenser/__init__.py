"""Temporary-card dispensers: the :class:`CardDispenser` interface and our serial line protocol's driver."""

from drivers.dispenser.driver import (
    CardDispenser,
    CardPresented,
    CardRecalled,
    CardTaken,
    DispenserEvent,
    DispenserTally,
    Jammed,
    SerialCardDispenser,
    StockChanged,
)
from drivers.dispenser.errors import (
    DispenserError,
    DispenserProtocolError,
    DispenserRefusedError,
    DispenserTimeoutError,
    DispenserTransportError,
)
from drivers.dispenser.protocol import DispenserStatus, StockLevel
from drivers.serial_line.link import LineLinkConfig

__all__ = [
    "CardDispenser",
    "CardPresented",
    "CardRecalled",
    "CardTaken",
    "DispenserError",
    "DispenserEvent",
    "DispenserProtocolError",
    "DispenserRefusedError",
    "DispenserStatus",
    "DispenserTally",
    "DispenserTimeoutError",
    "DispenserTransportError",
    "Jammed",
    "LineLinkConfig",
    "SerialCardDispenser",
    "StockChanged",
    "StockLevel",
]
