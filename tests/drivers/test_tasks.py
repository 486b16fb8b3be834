"""Cancelling a driver's tasks: a cancellation is never swallowed, so a shutdown that gives up on a slow step ends.

Python 3.11's ``asyncio.wait_for`` returns the result instead of raising when the task is cancelled in the same
step as the awaited thing completes (CPython gh-86296, fixed in 3.12): a poll loop cancelled as its command arrived
polled on, and the loop's close at the end of a test waited for it.
"""

from __future__ import annotations

import asyncio

from drivers.modbus import ModbusLink
from drivers.modbus.device import PolledDevice
from drivers.tasks import cancel_and_wait


async def test_cancel_and_wait_ends_the_task() -> None:
    started = asyncio.Event()

    async def forever() -> None:
        started.set()
        await asyncio.sleep(3600)

    task = asyncio.create_task(forever())
    await started.wait()
    await cancel_and_wait(task)
    assert task.cancelled()


async def test_a_caller_cancelled_while_it_waits_is_cancelled_too() -> None:
    """The ``suppress(CancelledError): await task`` idiom would let the caller run on after its own cancellation."""
    cleaning = asyncio.Event()

    async def slow_to_end() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cleaning.set()
            await asyncio.sleep(0.2)  # a release write on a slow line
            raise

    after: list[str] = []

    async def stopper(worker: asyncio.Task[None]) -> None:
        await cancel_and_wait(worker)
        after.append("ran on")

    worker = asyncio.create_task(slow_to_end())
    await asyncio.sleep(0)
    stopping = asyncio.create_task(stopper(worker))
    await cleaning.wait()
    stopping.cancel()
    await asyncio.wait({stopping}, timeout=2)
    assert stopping.cancelled()
    assert after == []


def _probe() -> PolledDevice:
    return PolledDevice("probe", ModbusLink("/nonexistent/tty"), poll_interval_ms=50, offline_after_failures=3,
                        bus=None)  # fmt: skip


async def test_a_poll_loop_cancelled_as_its_command_arrives_ends() -> None:
    """The poll after a change waits for the command it may bring; the command and the shutdown come together."""
    device = _probe()
    device._changed()
    device._react_until = device.clock() + 30
    waiting = asyncio.create_task(device._await_reaction())
    await asyncio.sleep(0.01)
    assert not waiting.done()
    device._command_written()  # the command is written ...
    waiting.cancel()  # ... and the shutdown cancels the loop before the loop has run again
    await asyncio.wait({waiting}, timeout=2)
    assert waiting.cancelled(), "the reaction wait returned: the poll loop would have polled on"
    await device.stop()
