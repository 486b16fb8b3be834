"""What a test that ran out of time was waiting for: the asyncio tasks still pending and the line each waits on.

pytest-timeout stops a hung test with "Timeout", which in a CI log's last lines says nothing of where it hung (the
event loop's select, mostly); this names the pending tasks in the failure's one-line summary.
"""

from __future__ import annotations

import asyncio
import asyncio.tasks
from pathlib import Path
from types import CodeType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _chain(awaitable: Any) -> list[tuple[CodeType, int]]:
    """The code and line of each coroutine or generator in the await chain from ``awaitable`` inwards."""
    chain: list[tuple[CodeType, int]] = []
    while awaitable is not None and len(chain) < 100:
        frame = getattr(awaitable, "cr_frame", None) or getattr(awaitable, "gi_frame", None)
        if frame is not None:
            chain.append((frame.f_code, frame.f_lineno))
        awaitable = getattr(awaitable, "cr_await", None) or getattr(awaitable, "gi_yieldfrom", None)
    return chain


def _ours(code: CodeType) -> bool:
    path = Path(code.co_filename)
    return path.is_relative_to(ROOT) and not path.is_relative_to(ROOT / ".venv")


def _place(code: CodeType, line: int) -> str:
    path = Path(code.co_filename)
    shown = str(path.relative_to(ROOT)) if _ours(code) else path.name
    return f"{code.co_name}@{shown}:{line}"


def describe(awaitable: Any) -> str:
    """Where ``awaitable`` waits: the project's own frames of its await chain, then the innermost one."""
    chain = _chain(awaitable)
    if not chain:
        return "?"
    shown = [step for step in chain[:-1] if _ours(step[0])] + [chain[-1]]
    return " > ".join(_place(*step) for step in shown)


def pending_tasks(limit: int = 6) -> list[str]:
    """``task name: function@file:line`` of every asyncio task not yet done, in any loop of this process."""
    tasks = [task for task in list(asyncio.tasks._all_tasks) if not task.done()]  # type: ignore[attr-defined]
    described = []
    for task in tasks[:limit]:
        described.append(f"{task.get_name()}: {describe(task.get_coro())}")
    if len(tasks) > limit:
        described.append(f"and {len(tasks) - limit} more")
    return described
