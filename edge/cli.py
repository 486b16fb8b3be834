"""``parkgate edge ...``: run the edge daemon, check its journal, show what it holds."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

_LOGGER = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    edge = subparsers.add_parser("edge", help="the edge lane controller of one car park")
    actions = edge.add_subparsers(dest="edge_command", metavar="ACTION", required=True)

    run = actions.add_parser("run", help="run every lane of the site until SIGTERM/SIGINT (lanes drain first)")
    run.add_argument("--config", required=True, type=Path, metavar="SITE.toml")
    run.add_argument("--listen", "--metrics-listen", dest="metrics_listen", default=None, metavar="HOST:PORT",
                     help="where the booth console, /metrics and /healthz are served (default: the site file's "
                          "[console] listen, 127.0.0.1:8700 if unset; '' to disable)")  # fmt: skip
    run.add_argument("--synchronous", choices=("FULL", "NORMAL"), default="FULL",
                     help="SQLite durability: FULL survives power loss (default), NORMAL survives a crash")  # fmt: skip
    run.add_argument("--drain-timeout", type=float, default=120.0, metavar="SECONDS")
    run.set_defaults(handler=run_edge)

    verify = actions.add_parser("verify", help="walk the journal's hash chain")
    verify.add_argument("--config", required=True, type=Path, metavar="SITE.toml")
    verify.set_defaults(handler=verify_journal)

    status = actions.add_parser("status", help="open sessions, occupancy, outbox backlog, lists version")
    status.add_argument("--config", required=True, type=Path, metavar="SITE.toml")
    status.set_defaults(handler=show_status)

    from edge.console.cli import register_operators  # the booth console's operators and PINs

    register_operators(actions)


def _load(path: Path) -> object:
    from edge.site import SiteError, load_site
    from parking.cli import UsageError

    try:
        return load_site(path)
    except SiteError as err:
        raise UsageError(str(err)) from None


def _journal_path(site_file: Path, journal: str) -> Path:
    path = Path(journal)
    return path if path.is_absolute() else site_file.parent / path


def run_edge(args: argparse.Namespace) -> int:
    import asyncio
    import contextlib
    import signal
    import sys

    from edge.daemon import EdgeDaemon
    from edge.site import SiteConfig
    from parking.cli import UsageError

    site = _load(args.config)
    assert isinstance(site, SiteConfig)
    # The journal's writer thread must get the interpreter quickly when a lane waits on its commit (default 5 ms).
    sys.setswitchinterval(0.001)

    listen = site.console.listen if args.metrics_listen is None else args.metrics_listen

    async def main() -> None:
        daemon = EdgeDaemon(
            site, args.config.resolve(), metrics_listen=listen or None,
            drain_timeout_s=args.drain_timeout, synchronous=args.synchronous,
        )  # fmt: skip
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            await daemon.start()
        except OSError as err:  # a port in use, a device path that cannot be opened: one line, not a traceback
            with contextlib.suppress(Exception):
                await daemon.stop()
            raise UsageError(f"the edge cannot start: {err}") from None
        _LOGGER.info("edge running: %d lanes; console and metrics at %s", len(daemon.lanes), listen or "-")
        await stop.wait()
        _LOGGER.info("stopping: finishing the vehicles in the lanes")
        await daemon.stop()

    asyncio.run(main())
    return 0


def verify_journal(args: argparse.Namespace) -> int:
    from edge.site import SiteConfig
    from edge.store.journal import Journal

    site = _load(args.config)
    assert isinstance(site, SiteConfig)
    journal = Journal(_journal_path(args.config, site.journal.path), site.car_park.id)
    check = journal.verify_chain()
    if check.ok:
        print(f"journal OK: {check.checked} records chained")
        return 0
    print(f"journal BROKEN at seq {check.first_bad_seq}: {check.detail} ({check.checked} records good before it)")
    return 1


def show_status(args: argparse.Namespace) -> int:
    from edge.lanes.park import ParkState
    from edge.site import SiteConfig
    from edge.store.journal import Journal
    from edge.store.lists import ListStore, lists_path

    site = _load(args.config)
    assert isinstance(site, SiteConfig)
    path = _journal_path(args.config, site.journal.path)
    journal = Journal(path, site.car_park.id)
    park = ParkState(site.car_park.capacity)
    for session in journal.open_sessions():
        park.open(session)
    lists = ListStore(lists_path(path))
    occupancy = ", ".join(f"{cls} {park.occupancy[cls]}/{park.capacity[cls]}" for cls in park.capacity)
    print(f"car park {site.car_park.id}: {len(park.sessions)} vehicles inside ({occupancy})")
    print(f"journal {path}: {journal.last_seq} records, {journal.backlog()} not yet acknowledged by central")
    print(f"lists version {lists.version}: {len(lists.passes())} passes, {len(lists.cards())} cards, "
          f"{len(lists.vehicles())} listed vehicles")  # fmt: skip
    return 0
