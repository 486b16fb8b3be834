"""The ``parkgate`` command: one entry point that hands each subcommand to its component's own ``cli`` module.

Components register themselves here by module name and are imported only when present, so ``parking`` keeps its
rule of importing nothing else of ours at import time; each ``cli`` module keeps heavy imports inside its handlers
so ``parkgate --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Protocol, cast

from parking.log import LEVELS, configure_logging

# (module, what it adds) in the order the help lists them.
COMPONENT_CLIS: tuple[str, ...] = (
    "edge.site.cli",  # config check (the site file is the edge's)
    "parking.tariff_cli",  # fee quote
    "drivers.cli",  # decode
    "simulators.cli",  # sim, demo
    "edge.cli",  # edge run, console
    "central.cli",  # central run
)

# The commands of a component whose registration is heavy (the simulators' modules import OpenCV, FastAPI, uvicorn
# and libosdp to add their subcommands): skipped when the command line asks for another command, so a process such
# as ``parkgate edge run`` does not load them (its start-up time and memory).
HEAVY_COMPONENTS: dict[str, tuple[str, ...]] = {"simulators.cli": ("sim", "demo")}

Handler = Callable[[argparse.Namespace], int]


class ComponentCli(Protocol):
    def register(self, subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None: ...


class UsageError(Exception):
    """A user's mistake on the command line or in a file: printed as one clear message, exit status 1."""


def _command(argv: Sequence[str]) -> str | None:
    """The subcommand ``argv`` asks for (its first word that is neither an option nor an option's value)."""
    words = iter(argv)
    for word in words:
        if word in ("--log-level",):
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The whole command line; given ``argv``, components of :data:`HEAVY_COMPONENTS` that do not provide its
    command are left out (``--help`` and a missing command still list everything)."""
    parser = argparse.ArgumentParser(
        prog="parkgate",
        description="ParkGate parking access and revenue control.",
    )
    parser.add_argument("--log-level", default="INFO", type=str.upper, choices=LEVELS, help="logging level")
    parser.add_argument("--log-json", action="store_true", help="log one JSON object per line")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    command = None if argv is None else _command(argv)
    for name in COMPONENT_CLIS:
        if command is not None and command not in HEAVY_COMPONENTS.get(name, (command,)):
            continue
        if importlib.util.find_spec(name) is None:
            continue
        module = cast(ComponentCli, importlib.import_module(name))
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    configure_logging(args.log_level, json_lines=args.log_json)
    handler = cast(Handler, args.handler)
    try:
        return handler(args)
    except UsageError as err:
        print(f"parkgate: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        logging.getLogger(__name__).info("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
