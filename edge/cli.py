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

    purge = actions.add_parser("purge", help="purge personal data older than the site's [retention] (journaled)")
    purge.add_argument("--config", required=True, type=Path, metavar="SITE.toml")
    purge.add_argument("--by", default=None, help="who runs it, for the journal (default: the login name)")
    purge.add_argument("--json", action="store_true", help="the report as JSON for scripts")
    purge.set_defaults(handler=purge_journal)

    export = actions.add_parser("export-plate", help="one plate's records for a data-subject request (journaled)")
    export.add_argument("plate")
    export.add_argument("--config", required=True, type=Path, metavar="SITE.toml")
    export.add_argument("--reason", required=True, help="why: the request it answers (kept in the journal)")
    export.add_argument("--by", default=None, help="who asked for it (default: the login name)")
    export.add_argument("--format", choices=("json", "csv"), default="json")
    export.add_argument("--output", type=Path, default=None, help="write here instead of standard output")
    export.set_defaults(handler=export_plate_records)

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
    from datetime import UTC, datetime

    check = journal.verify_chain(site.retention.rule(), datetime.now(UTC))
    if check.ok:
        purged = f" ({check.purged} purged by the retention: linked, content not recomputed)" if check.purged else ""
        print(f"journal OK: {check.checked} records chained{purged}")
        return 0
    print(f"journal BROKEN at seq {check.first_bad_seq}: {check.detail} ({check.checked} records good before it)")
    return 1


def _who(given: str | None) -> str:
    import getpass

    if given:
        return given
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def purge_journal(args: argparse.Namespace) -> int:
    import json
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from edge.site import SiteConfig
    from edge.store.journal import Journal
    from edge.store.retention import purge

    site = _load(args.config)
    assert isinstance(site, SiteConfig)
    path = _journal_path(args.config, site.journal.path)
    journal = Journal(path, site.car_park.id)
    try:
        report = purge(journal, site.retention.rule(), by=_who(args.by), now=datetime.now(UTC),
                       require_sent=site.central is not None, image_dir=path.parent / "images",
                       zone=ZoneInfo(site.car_park.timezone))  # fmt: skip
    finally:
        journal.close()
    if args.json:
        print(json.dumps(report.summary(), ensure_ascii=False))
        return 0
    print(
        f"purge {report.purge_id} by {report.by}: {report.records} records lost {report.fields} personal fields "
        f"(pictures before {report.images_before:%Y-%m-%d %H:%M}Z, plates and cards before "
        f"{report.events_before:%Y-%m-%d %H:%M}Z); {report.files} pictures deleted ({report.bytes} bytes)"
    )
    if report.kept_unsent or report.kept_open:
        print(
            f"kept whole: {report.kept_unsent} records central has not acknowledged, {report.kept_open} of "
            "sessions still open"
        )
    return 0


def export_plate_records(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from edge.site import SiteConfig
    from edge.store.journal import Journal
    from edge.store.retention import export_plate
    from parking.cli import UsageError

    site = _load(args.config)
    assert isinstance(site, SiteConfig)
    journal = Journal(_journal_path(args.config, site.journal.path), site.car_park.id)
    try:
        export = export_plate(journal, args.plate, by=_who(args.by), reason=args.reason, now=datetime.now(UTC))
    except ValueError as err:
        raise UsageError(str(err)) from None
    finally:
        journal.close()
    text = export.as_json() if args.format == "json" else export.as_csv()
    if args.output is not None:
        args.output.write_text(text, encoding="utf-8")
        print(f"{len(export.records)} records of {export.plate} written to {args.output}")
    else:
        print(text, end="" if text.endswith("\n") else "\n")
    return 0


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
