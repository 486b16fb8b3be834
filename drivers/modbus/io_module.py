"""Driver for a Modbus RTU digital I/O module wired to a barrier controller and its loops.

Outputs (coils 05/0F, or holding-register bits 06 for register-addressed clones) pulse the barrier's open and
close contacts and hold it open; inputs (discrete inputs 02, or input-register bits 04) are polled every
``poll_interval_ms`` and each change becomes a :class:`BarrierChanged` or :class:`LoopChanged` event with its time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime
from typing import Any

from drivers.health import Health
from drivers.modbus.bus import ModbusBus
from drivers.modbus.config import ModbusIoConfig
from drivers.modbus.device import PolledDevice
from drivers.modbus.errors import (
    ModbusError,
    ModbusExceptionResponseError,
    ModbusProtocolError,
    ModbusTimeoutError,
    SafetyInterlockError,
)
from drivers.modbus.events import (
    BarrierChanged,
    BarrierCommand,
    BarrierStatus,
    CloseBarrier,
    HoldOpen,
    LoopChanged,
    LoopRole,
    OpenBarrier,
)
from drivers.modbus.points import input_block, level_for, output_block, point_states, set_register_bit
from drivers.tasks import cancel_and_wait

_LOGGER = logging.getLogger(__name__)
_BARRIER_POINTS = ("open_limit", "closed_limit", "fault", "obstacle")


class ModbusIoModule(PolledDevice):
    """A barrier and its loops behind a Modbus digital I/O module."""

    COMMAND_ATTEMPTS = 3  # an open or close written up to three times when the line loses it

    def __init__(self, config: ModbusIoConfig, *, bus: ModbusBus | None = None, **kwargs: Any) -> None:
        super().__init__(
            config.name,
            config.link,
            poll_interval_ms=config.poll_interval_ms,
            offline_after_failures=config.offline_after_failures,
            bus=bus,
            **kwargs,
        )
        self.config = config
        self._inputs = config.io_map.inputs()
        self._outputs = config.io_map.outputs()
        self._in_block = input_block(self._inputs, config.addressing)
        self._out_block = output_block(self._outputs, config.addressing)
        self.inputs: dict[str, bool] | None = None  # None until read (and again while offline)
        self.hold_open_active: bool | None = None
        self._hold_wanted: bool | None = None
        self._shadow: dict[int, int] = {}  # output register words (register addressing)
        self._command_lock = asyncio.Lock()
        self._pulses: dict[str, asyncio.Task[None]] = {}

    # ------------------------------------------------------------------ state

    @property
    def status(self) -> BarrierStatus | None:
        if self.inputs is None:
            return None
        return BarrierStatus(**{name: self.inputs.get(name) for name in _BARRIER_POINTS})

    def loop_present(self, loop: LoopRole) -> bool | None:
        return None if self.inputs is None else self.inputs.get(loop.value)

    def _healthy_state(self) -> tuple[Health, str]:
        if self.inputs and self.inputs.get("fault"):
            return Health.FAULT, "barrier controller reports a fault"
        return Health.ONLINE, "polling"

    # ------------------------------------------------------------------ polling

    async def _on_link_up(self) -> None:
        await self._sync_outputs()

    def _on_link_down(self) -> None:
        self.inputs = None

    async def _poll(self, fresh: bool) -> None:
        block = self._in_block
        if block is None:
            return
        unit, name = self.config.unit_id, self.name
        values: list[bool] | list[int]
        if block.function == 0x02:
            values = await self.bus.read_bits(name, unit, 0x02, block.address, block.count)
        else:
            values = await self.bus.read_registers(name, unit, 0x04, block.address, block.count)
        mono, at = self.clock(), self.wall()
        states = point_states(self._inputs, block, values)
        previous, self.inputs = (None if fresh else self.inputs), states
        self._report(previous, states, at, mono)

    def _report(self, previous: dict[str, bool] | None, states: dict[str, bool], at: datetime, mono: float) -> None:
        def changed(point: str) -> bool:
            return previous is None or previous.get(point) != states.get(point)

        if any(changed(p) for p in _BARRIER_POINTS if p in states):
            before = None if previous is None else BarrierStatus(**{p: previous.get(p) for p in _BARRIER_POINTS})
            now = BarrierStatus(**{p: states.get(p) for p in _BARRIER_POINTS})
            self.emit(BarrierChanged(self.name, now, before, at, mono))
        # Within one poll, a loop that became occupied is reported before one that cleared: a vehicle moving on
        # is over both loops at once, so "arming clear, safety occupied" read together is a car going forward.
        roles = [role for role in LoopRole if role.value in states and changed(role.value)]
        for role in sorted(roles, key=lambda r: not states[r.value]):
            self.emit(LoopChanged(self.name, role, states[role.value], None, at, mono))
        if previous is not None and (roles or any(changed(p) for p in _BARRIER_POINTS if p in states)):
            self._changed()

    # ------------------------------------------------------------------ outputs

    async def _sync_outputs(self) -> None:
        """After a (re)connect: learn the outputs, release any pulse left on, keep (or apply) the hold-open."""
        block, unit, name = self._out_block, self.config.unit_id, self.name
        if block is None:
            return
        hold = self._outputs.get("hold_open")
        if block.function == 0x01:
            levels = await self.bus.read_bits(name, unit, 0x01, block.address, block.count)
            current = point_states(self._outputs, block, levels)
            if hold is not None:
                self.hold_open_active = current["hold_open"] if self._hold_wanted is None else self._hold_wanted
            for point_name, point in self._outputs.items():
                active = point_name == "hold_open" and bool(self.hold_open_active)
                levels[point.address - block.address] = level_for(point, active)
            await self.bus.write_coils(name, unit, block.address, levels)
        else:
            words = await self.bus.read_registers(name, unit, 0x03, block.address, block.count)
            self._shadow = {block.address + i: w for i, w in enumerate(words)}
            current = point_states(self._outputs, block, words)
            if hold is not None:
                self.hold_open_active = current["hold_open"] if self._hold_wanted is None else self._hold_wanted
            for point_name, point in self._outputs.items():
                active = point_name == "hold_open" and bool(self.hold_open_active)
                word = self._shadow[point.address]
                self._shadow[point.address] = set_register_bit(word, point, level_for(point, active))
            for address, word in self._shadow.items():
                if word != words[address - block.address]:
                    await self.bus.write_register(name, unit, address, word)

    async def _write(self, point_name: str, active: bool) -> None:
        point = self._outputs.get(point_name)
        if point is None:
            raise ModbusError(f"no {point_name} output in the I/O map", device=self.name)
        level = level_for(point, active)
        if self.config.addressing == "bits":
            await self.bus.write_coil(self.name, self.config.unit_id, point.address, level)
            return
        if point.address not in self._shadow:
            words = await self.bus.read_registers(self.name, self.config.unit_id, 0x03, point.address, 1)
            self._shadow[point.address] = words[0]
        word = set_register_bit(self._shadow[point.address], point, level)
        await self.bus.write_register(self.name, self.config.unit_id, point.address, word)
        self._shadow[point.address] = word

    async def _write_command(self, point_name: str) -> None:
        """Set a command output, writing it again when the request or its answer was lost on the line (no answer in
        time, or an answer with a bad CRC): a contact set twice is set once, and one burst of noise on an RS-485
        bus must not leave a paid driver behind a closed barrier. A device that refuses (a Modbus exception) or a
        link that is gone is not retried."""
        for attempt in range(1, self.COMMAND_ATTEMPTS + 1):
            try:
                await self._write(point_name, True)
                return
            except ModbusExceptionResponseError:
                raise
            except (ModbusTimeoutError, ModbusProtocolError) as err:
                if attempt == self.COMMAND_ATTEMPTS:
                    raise
                _LOGGER.warning("%s: %s command lost on the line (%s); writing it again (attempt %d of %d)",
                                self.name, point_name, err, attempt + 1, self.COMMAND_ATTEMPTS)  # fmt: skip

    async def _release(self, point_name: str, delay: float) -> None:
        await asyncio.sleep(delay)
        async with self._command_lock:
            self._pulses.pop(point_name, None)
            try:
                await self._write(point_name, False)
            except ModbusError as err:  # the resync after the reconnect releases it
                _LOGGER.warning("%s: could not release %s: %s", self.name, point_name, err)

    async def _pulse(self, point_name: str) -> None:
        try:
            await self._pulse_now(point_name)
        finally:
            self._command_written()

    async def _pulse_now(self, point_name: str) -> None:
        async with self._command_lock:
            for other, task in list(self._pulses.items()):  # a new command ends the pulse before it
                await cancel_and_wait(task)
                del self._pulses[other]
                await self._write(other, False)
            await self._write_command(point_name)
            delay = self.config.io_map.pulse_ms / 1000
            self._pulses[point_name] = asyncio.create_task(self._release(point_name, delay))

    # ------------------------------------------------------------------ commands

    async def open(self) -> None:
        """Pulse the open contact."""
        await self._pulse("open")

    async def close(self) -> None:
        """Pulse the close contact, unless the safety loop is occupied, faulty or unknown, or an obstacle is seen."""
        inputs = self.inputs
        if "safety_loop" in self._inputs and (inputs is None or inputs["safety_loop"]):
            raise SafetyInterlockError("close refused: safety loop occupied or unknown", device=self.name)
        if inputs is not None and inputs.get("obstacle"):
            raise SafetyInterlockError("close refused: obstacle reported", device=self.name)
        await self._pulse("close")

    async def hold_open(self, on: bool = True) -> None:
        """Hold the barrier open or release it; a repeated request writes nothing."""
        async with self._command_lock:
            self._hold_wanted = on
            if self.hold_open_active is on:
                return
            try:
                await self._write("hold_open", on)
            finally:
                self._command_written()
            self.hold_open_active = on

    async def execute(self, command: BarrierCommand) -> None:
        """Run a typed command."""
        if isinstance(command, OpenBarrier):
            await self.open()
        elif isinstance(command, CloseBarrier):
            await self.close()
        elif isinstance(command, HoldOpen):
            await self.hold_open(command.on)

    async def stop(self) -> None:
        """Stop polling; a pulse in progress is released first so no contact stays closed. Polling stops and the
        bus closes even when a release does not get through or this is cancelled meanwhile."""
        try:
            for point_name, task in list(self._pulses.items()):
                await cancel_and_wait(task)
                with contextlib.suppress(ModbusError):
                    await self._write(point_name, False)
            self._pulses.clear()
        finally:
            await super().stop()
