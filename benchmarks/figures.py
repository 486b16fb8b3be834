"""The figures a benchmark measures, in a form :mod:`benchmarks.run` can put in one table and one JSON file.

Each bench script keeps printing its own lines; besides, it records every figure it reports with
:meth:`Recorder.add` (its value and unit, the floor or the peer measured in the same run beside it, the goal and
whether it is met) and, when run with ``--json FILE``, writes them there. A figure with a peer gets a ratio
(value / peer) in the table. ``met`` is None for a figure without a goal (shown for context).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    peer: str = ""  # the floor or the peer the value stands beside ("" for none)
    peer_value: float | None = None  # in the same unit as value
    goal: str = ""  # in words, e.g. "<= 1.5 x floor"
    met: bool | None = None
    note: str = ""  # the size and what limits it

    @property
    def ratio(self) -> float | None:
        if self.peer_value is None or self.peer_value == 0:
            return None
        return self.value / self.peer_value


@dataclass
class Recorder:
    bench: str
    figures: list[Figure] = field(default_factory=list)
    started: float = field(default_factory=time.time)

    def add(
        self, name: str, value: float, unit: str, *, peer: str = "", peer_value: float | None = None,
        goal: str = "", met: bool | None = None, note: str = "",
    ) -> Figure:  # fmt: skip
        figure = Figure(name, float(value), unit, peer, None if peer_value is None else float(peer_value), goal, met,
                        note)  # fmt: skip
        self.figures.append(figure)
        return figure

    def as_json(self) -> dict[str, Any]:
        return {
            "bench": self.bench,
            "command": [Path(sys.executable).name, *sys.argv],
            "seconds": round(time.time() - self.started, 1),
            "load_average": list(os.getloadavg()),
            "figures": [{**asdict(f), "ratio": f.ratio} for f in self.figures],
        }

    def save(self, path: str | Path | None) -> None:
        """Write the figures to ``path`` (nothing when None: the script runs standalone)."""
        if path is None:
            return
        Path(path).write_text(json.dumps(self.as_json(), ensure_ascii=False, indent=1) + "\n")


def add_json_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", type=Path, default=None, metavar="FILE",
                        help="also write the figures as JSON to FILE (benchmarks/run.py reads it)")  # fmt: skip


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values``, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def proc_stat(pid: int) -> tuple[str, int, float] | None:
    """A process of this machine from ``/proc/PID/stat``: (its name, its parent's pid, its CPU seconds, user +
    system); None when it cannot be read (gone, or a server on another machine)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    name, rest = text[text.index("(") + 1 : text.rindex(")")], text[text.rindex(")") + 1 :].split()
    return name, int(rest[1]), (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")


def backend_cpu(pid: int) -> float:
    """CPU seconds (user + system) a PostgreSQL backend of this machine has used, from /proc (0 if unreadable)."""
    stat = proc_stat(pid)
    return stat[2] if stat is not None else 0.0
