"""Driver for an LD120-style vehicle loop detector on the RS-485 bus (Modbus RTU).

Register map (ours, implemented by ``simulators/loop_detector.py``; real detectors are configured to match or
get their own map here). Channel 1 is usually the arming loop, channel 2 the safety loop.

=========================  ======  ==========================================================================
register                   fc      meaning
=========================  ======  ==========================================================================
input 0 / 1                04      channel 1 / 2 status: bit 0 detect (presence output), bit 1 fault (any),
                                   bit 2 open circuit, bit 3 short circuit, bit 4 presence time limit reached
                                   (limited presence: the output dropped although the loop may be occupied)
input 2-3 / 4-5            04      channel 1 / 2 vehicle counter, 32 bits, high word first
input 6 / 7                04      channel 1 / 2 loop oscillator frequency in units of 10 Hz (0 = no loop)
holding 0                  06      command: 1 = reset both counters, 2 = retune both channels
=========================  ======  ==========================================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from drivers.health import Health
from drivers.modbus.bus import ModbusBus
from drivers.modbus.config import LoopDetectorConfig
from drivers.modbus.device import PolledDevice
from drivers.modbus.errors import ModbusProtocolError
from drivers.modbus.events import LoopChanged, LoopRole, VehicleCounted

STATUS_DETECT = 1 << 0
STATUS_FAULT = 1 << 1
STATUS_OPEN_CIRCUIT = 1 << 2
STATUS_SHORT_CIRCUIT = 1 << 3
STATUS_PRESENCE_LIMIT = 1 << 4
REGISTER_COUNT = 8
COMMAND_REGISTER = 0
COMMAND_RESET_COUNTERS = 1
COMMAND_RETUNE = 2


@dataclass(frozen=True, slots=True)
class ChannelState:
    """One detector channel as read from its registers."""

    present: bool
    fault: str | None  # "open-circuit", "short-circuit", "fault" or None
    presence_limited: bool
    count: int
    frequency_hz: int


def fault_name(status: int) -> str | None:
    if status & STATUS_OPEN_CIRCUIT:
        return "open-circuit"
    if status & STATUS_SHORT_CIRCUIT:
        return "short-circuit"
    if status & STATUS_FAULT:
        return "fault"
    return None


def decode_channels(registers: list[int]) -> tuple[ChannelState, ChannelState]:
    """The two channels from input registers 0..7 (pure; see the register map above)."""
    if len(registers) != REGISTER_COUNT or any(not 0 <= r <= 0xFFFF for r in registers):
        raise ModbusProtocolError(f"loop detector block must be {REGISTER_COUNT} registers of 16 bits")

    def channel(i: int) -> ChannelState:
        status = registers[i]
        count = registers[2 + 2 * i] << 16 | registers[3 + 2 * i]
        return ChannelState(
            present=bool(status & STATUS_DETECT),
            fault=fault_name(status),
            presence_limited=bool(status & STATUS_PRESENCE_LIMIT),
            count=count,
            frequency_hz=registers[6 + i] * 10,
        )

    return channel(0), channel(1)


def encode_channels(first: ChannelState, second: ChannelState) -> list[int]:
    """The inverse of :func:`decode_channels` (the simulator writes its registers with it)."""
    out = [0] * REGISTER_COUNT
    for i, ch in enumerate((first, second)):
        status = (STATUS_DETECT if ch.present else 0) | (STATUS_PRESENCE_LIMIT if ch.presence_limited else 0)
        if ch.fault is not None:
            status |= STATUS_FAULT
            status |= {"open-circuit": STATUS_OPEN_CIRCUIT, "short-circuit": STATUS_SHORT_CIRCUIT}.get(ch.fault, 0)
        out[i] = status
        out[2 + 2 * i], out[3 + 2 * i] = ch.count >> 16 & 0xFFFF, ch.count & 0xFFFF
        out[6 + i] = min(ch.frequency_hz // 10, 0xFFFF)
    return out


class ModbusLoopDetector(PolledDevice):
    """Polls the detector's input registers; reports presence, faults and counted vehicles per loop role."""

    def __init__(self, config: LoopDetectorConfig, *, bus: ModbusBus | None = None, **kwargs: Any) -> None:
        super().__init__(
            config.name,
            config.link,
            poll_interval_ms=config.poll_interval_ms,
            offline_after_failures=config.offline_after_failures,
            bus=bus,
            **kwargs,
        )
        self.config = config
        self.channels: dict[LoopRole, ChannelState] | None = None

    def _healthy_state(self) -> tuple[Health, str]:
        faults = [f"{role.value} {ch.fault}" for role, ch in (self.channels or {}).items() if ch.fault]
        if faults:
            return Health.FAULT, ", ".join(faults)
        return Health.ONLINE, "polling"

    def _on_link_down(self) -> None:
        self.channels = None

    async def _poll(self, fresh: bool) -> None:
        registers = await self.bus.read_registers(self.name, self.config.unit_id, 0x04, 0, REGISTER_COUNT)
        mono, at = self.clock(), self.wall()
        both = decode_channels(registers)
        now = {LoopRole(role): both[channel - 1] for role, channel in self.config.channels.items()}
        before = None if fresh else self.channels
        self.channels = now
        # Within one poll, occupancies before clearances (see ``io_module``): a vehicle moving on is over both loops.
        changed = [
            (role, state) for role, state in now.items()
            if before is None or before.get(role) is None
            or (before[role].present, before[role].fault) != (state.present, state.fault)
        ]  # fmt: skip
        for role, state in sorted(changed, key=lambda item: not (item[1].present or item[1].fault is not None)):
            self.emit(LoopChanged(self.name, role, state.present, state.fault, at, mono))
        for role, state in now.items():
            old = None if before is None else before.get(role)
            if old is not None and state.count != old.count:
                delta = (state.count - old.count) & 0xFFFFFFFF
                self.emit(VehicleCounted(self.name, role, state.count, delta, at, mono))

    async def reset_counters(self) -> None:
        """Zero both vehicle counters."""
        await self.bus.write_register(self.name, self.config.unit_id, COMMAND_REGISTER, COMMAND_RESET_COUNTERS)

    async def retune(self) -> None:
        """Ask the detector to retune both loops (after roadworks or a long presence)."""
        await self.bus.write_register(self.name, self.config.unit_id, COMMAND_REGISTER, COMMAND_RETUNE)
