"""``parkgate sim DEVICE ...`` runs one simulated device; ``parkgate demo`` runs the system on simulated devices.

Each simulator module listed in :data:`SIMULATORS` provides ``register_sim(subparsers)`` adding its own
``parkgate sim <device>`` subcommand; modules not yet present are left out.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
from collections.abc import Callable
from typing import cast

SIMULATORS: tuple[str, ...] = (
    "simulators.io_module",
    "simulators.loop_detector",
    "simulators.camera",
    "simulators.card_reader",
    "simulators.dispenser",
    "simulators.display",
    "simulators.scenario",
)

Registrar = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    present = [m for m in SIMULATORS if importlib.util.find_spec(m) is not None]
    if present:
        sim = subparsers.add_parser("sim", help="run a simulated device that speaks the real protocol")
        devices = sim.add_subparsers(dest="device", metavar="DEVICE", required=True)
        for name in present:
            module = importlib.import_module(name)
            register_sim = cast(Registrar | None, getattr(module, "register_sim", None))
            if register_sim is not None:
                register_sim(devices)
    demo = subparsers.add_parser("demo", help="run ParkGate on embedded defaults (SQLite, simulated devices)")
    demo.add_argument("--duration", type=float, default=None, help="stop after this many seconds (default: Ctrl-C)")
    demo.add_argument("--workdir", default="var/demo", help="where the demo keeps its databases")
    demo.add_argument("--seed", type=int, default=2026, help="seed of the traffic plan (same seed, same traffic)")
    demo.set_defaults(handler=_run_demo)


def _run_demo(args: argparse.Namespace) -> int:
    from simulators.demo import run_demo

    return run_demo(args)
