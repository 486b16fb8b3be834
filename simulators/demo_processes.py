"""The demo's child processes (central, the edge, one-shot ``parkgate`` commands): started in their own session so a
Ctrl-C in the terminal reaches the demo alone (it stops them in order), killed with the demo if it dies."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

_LOGGER = logging.getLogger(__name__)


# The child asks the kernel for SIGTERM when the demo dies (even by SIGKILL), then becomes the real command. Done
# in the child's own single-threaded interpreter rather than a preexec_fn, which is unsafe in the demo's process
# (the pseudo-terminals' pump threads run there). Linux only; elsewhere the command simply runs.
_LAUNCHER = """
import contextlib, ctypes, os, signal, sys
with contextlib.suppress(Exception):
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)
if os.getppid() != int(sys.argv[1]):
    sys.exit("parkgate demo: the demo is gone")
os.execv(sys.argv[2], sys.argv[2:])
"""


def _dies_with_demo(argv: list[str]) -> list[str]:
    return [sys.executable, "-c", _LAUNCHER, str(os.getpid()), *argv]


def parkgate(*args: str) -> list[str]:
    return [sys.executable, "-m", "parking", *args]


class Child:
    """One long-running child; its stderr goes to ``log_path`` and, line by line, to ``on_line``."""

    def __init__(self, name: str, argv: list[str], log_path: Path, env: dict[str, str],
                 on_line: Callable[[str], None] | None = None) -> None:  # fmt: skip
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self.env = env
        self.on_line = on_line
        self.process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._log: TextIO | None = None

    async def start(self) -> None:
        self._log = self.log_path.open("a", encoding="utf-8")
        self.process = await asyncio.create_subprocess_exec(
            *_dies_with_demo(self.argv), stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE, env=self.env, start_new_session=True,
        )  # fmt: skip
        self._reader = asyncio.create_task(self._read(), name=f"{self.name}-stderr")

    async def _read(self) -> None:
        assert self.process is not None
        assert self.process.stderr is not None
        assert self._log is not None
        while line := await self.process.stderr.readline():
            text = line.decode("utf-8", "replace").rstrip("\n")
            self._log.write(text + "\n")
            self._log.flush()
            if self.on_line is not None:
                try:
                    self.on_line(text)
                except Exception:
                    _LOGGER.exception("%s: could not handle a log line", self.name)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def exited(self) -> int | None:
        return self.process.returncode if self.process else None

    def tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return ""
        shown = []
        for line in text[-lines:]:
            with contextlib.suppress(ValueError, TypeError, AttributeError):
                entry = json.loads(line)
                line = f"{entry['level']} {entry['logger']}: {entry['message']}"
            shown.append("    " + line)
        return "\n".join(shown)

    async def stop(self, within: float = 20.0) -> int | None:
        """SIGTERM, wait up to ``within`` seconds, then SIGKILL. Returns the exit status."""
        process = self.process
        if process is None:
            return None
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(within):
                    await process.wait()
            except TimeoutError:
                _LOGGER.warning("%s did not stop within %.0f s: killed", self.name, within)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                await process.wait()
        if self._reader is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(5):
                    await self._reader
        if self._log is not None:
            self._log.close()
            self._log = None
        return process.returncode


async def run_once(argv: list[str], env: dict[str, str], stdin: str | None = None,
                   within: float = 60.0) -> tuple[int, str]:  # fmt: skip
    """A one-shot command; its exit status and its output (stdout then stderr)."""
    process = await asyncio.create_subprocess_exec(
        *_dies_with_demo(argv), stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env, start_new_session=True,
    )  # fmt: skip
    try:
        async with asyncio.timeout(within):
            out, err = await process.communicate(stdin.encode() if stdin is not None else None)
    except TimeoutError:
        process.kill()
        await process.wait()
        return -1, f"{' '.join(argv[2:])}: no answer within {within:.0f} s"
    assert process.returncode is not None
    return process.returncode, (out + err).decode("utf-8", "replace")


def json_line(text: str) -> dict[str, Any] | None:
    try:
        entry = json.loads(text)
    except ValueError:
        return None
    return entry if isinstance(entry, dict) else None
