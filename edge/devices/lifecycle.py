"""The devices' life cycle: stopping a driver within a bound, so a shutdown always ends."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

_LOGGER = logging.getLogger(__name__)
STOP_TIMEOUT_S = 3.0


async def stop_within(stopping: Coroutine[Any, Any, None], name: str, seconds: float = STOP_TIMEOUT_S) -> None:
    """Stop a driver, but never wait for it longer than ``seconds``: a driver that hangs (or swallows the
    cancellation ``asyncio.wait_for`` would send) is abandoned with a warning, so the shutdown always ends."""
    task = asyncio.ensure_future(stopping)
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if not done:
        task.cancel()
        _LOGGER.warning("%s did not stop within %.0f s; abandoned", name, seconds)
        return
    error = task.exception()
    if error is not None:
        _LOGGER.warning("%s did not stop cleanly: %r", name, error)
