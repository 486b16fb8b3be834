"""Pure mapping between an I/O map and Modbus reads and writes: which blocks to read, which value each point has,
which words to write. No I/O; the driver and the simulator both use it."""

from __future__ import annotations

from dataclasses import dataclass

from drivers.modbus.config import Addressing, IoPoint
from drivers.modbus.errors import ModbusError


@dataclass(frozen=True, slots=True)
class Block:
    """A contiguous read: function code, first address, count."""

    function: int
    address: int
    count: int


def span(points: dict[str, IoPoint], function: int) -> Block | None:
    """One read covering every point (the points of one module sit close together)."""
    if not points:
        return None
    addresses = [p.address for p in points.values()]
    first, last = min(addresses), max(addresses)
    limit = 2000 if function in (0x01, 0x02) else 125
    if last - first + 1 > limit:
        raise ModbusError(f"I/O points span {last - first + 1} addresses, more than one read of {limit}")
    return Block(function, first, last - first + 1)


def input_block(points: dict[str, IoPoint], addressing: Addressing) -> Block | None:
    """Discrete inputs (02) or input registers (04)."""
    return span(points, 0x02 if addressing == "bits" else 0x04)


def output_block(points: dict[str, IoPoint], addressing: Addressing) -> Block | None:
    """Coils (01/05/0F) or holding registers (03/06)."""
    return span(points, 0x01 if addressing == "bits" else 0x03)


def raw_level(point: IoPoint, block: Block, values: list[bool] | list[int]) -> bool:
    """The electrical level of a point in a block read (before ``active_low``)."""
    value = values[point.address - block.address]
    if point.bit is None:
        return bool(value)
    return bool(int(value) >> point.bit & 1)


def point_states(points: dict[str, IoPoint], block: Block, values: list[bool] | list[int]) -> dict[str, bool]:
    """Each point's logical state (``active_low`` applied)."""
    if len(values) < block.count:
        raise ModbusError(f"read returned {len(values)} values, {block.count} expected")
    return {name: raw_level(p, block, values) != p.active_low for name, p in points.items()}


def level_for(point: IoPoint, active: bool) -> bool:
    """The level to write for a logical state."""
    return active != point.active_low


def set_register_bit(word: int, point: IoPoint, level: bool) -> int:
    """``word`` with the point's bit set to ``level``."""
    assert point.bit is not None
    return word | (1 << point.bit) if level else word & ~(1 << point.bit) & 0xFFFF
