"""``parkgate central ...``: run the office service, migrate its database, create users and edges."""

from __future__ import annotations

import argparse
import getpass
import os
import socket
import sys
from datetime import date
from typing import Any


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    central = subparsers.add_parser("central", help="the central office service")
    actions = central.add_subparsers(dest="central_command", metavar="ACTION", required=True)

    run = actions.add_parser("run", help="migrate the database, then serve the API with uvicorn")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=8400)
    run.add_argument("--workers", type=int, default=1, help="worker processes (each reads PARKGATE_* itself)")
    run.add_argument("--no-migrate", action="store_true", help="serve without migrating first")
    run.add_argument("--tls-cert", default=None, help="serve HTTPS with this PEM certificate (PARKGATE_TLS_CERT_FILE)")
    run.add_argument("--tls-key", default=None, help="the certificate's PEM private key (PARKGATE_TLS_KEY_FILE)")
    run.add_argument("--tls-client-ca", default=None,
                     help="require client certificates signed by this CA, each edge's issued to its id "
                          "(PARKGATE_TLS_CLIENT_CA_FILE)")  # fmt: skip
    run.add_argument("--tls-client-crl", default=None,
                     help="refuse client certificates this PEM revocation list of the client CA lists "
                          "(PARKGATE_TLS_CLIENT_CRL_FILE)")  # fmt: skip
    run.set_defaults(handler=run_server)

    migrate = actions.add_parser("migrate", help="bring the database to the latest schema")
    migrate.set_defaults(handler=run_migrate)

    user = actions.add_parser("create-user", help="create an operator (password from PARKGATE_NEW_PASSWORD or asked)")
    user.add_argument("username")
    roles = ["admin", "office", "cashier", "supervisor", "front_desk", "collector", "auditor"]
    user.add_argument("--role", required=True, choices=roles)
    user.add_argument("--full-name", default="")
    user.set_defaults(handler=run_create_user)

    edge = actions.add_parser("create-edge", help="register an edge and print its token (shown this once)")
    edge.add_argument("edge_id")
    edge.add_argument("--car-park", required=True, help="the car park id (created if new)")
    edge.add_argument("--car-park-name", default=None)
    edge.set_defaults(handler=run_create_edge)

    purge = actions.add_parser("purge-tombstones", help="forget list deletions older than PARKGATE_TOMBSTONE_DAYS")
    purge.set_defaults(handler=run_purge)

    retention = actions.add_parser(
        "purge", help="purge plates, cards and pictures older than PARKGATE_RETENTION_* (audited; run daily)"
    )
    retention.add_argument("--by", default=None, help="who runs it, for the audit log (default: the login name)")
    retention.set_defaults(handler=run_retention_purge)

    chain = actions.add_parser("verify-chain", help="walk an edge's stored hash chain (purged records by their link)")
    chain.add_argument("edge_id")
    chain.set_defaults(handler=run_verify_chain)

    expire = actions.add_parser("expire-passes", help="mark passes past their validity as expired (run daily)")
    expire.set_defaults(handler=run_expire)

    rebuild = actions.add_parser(
        "rebuild-projections", help="rebuild the money records projection from the raw records"
    )
    rebuild.set_defaults(handler=run_rebuild_projections)

    reconcile = actions.add_parser("reconcile", help="print a car park's day reconciled (shifts, findings, bags)")
    reconcile.add_argument("--car-park", required=True)
    reconcile.add_argument("--day", required=True, type=_day, help="the car park's local day, YYYY-MM-DD")
    reconcile.add_argument("--json", action="store_true", help="JSON for scripts instead of text")
    reconcile.set_defaults(handler=run_reconcile)

    billing = actions.add_parser("billing-daily", help="suspend passes overdue past grace, send renewal reminders")
    billing.add_argument("--reminder-days", type=int, default=15, help="remind passes ending within this many days")
    billing.set_defaults(handler=run_billing_daily)

    rollups = actions.add_parser("rebuild-rollups", help="count every stored journal record into the reports again")
    rollups.set_defaults(handler=run_rebuild_rollups)


def _day(text: str) -> date:
    try:
        day = date.fromisoformat(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day as YYYY-MM-DD") from err
    if not date(2000, 1, 1) <= day < date(2200, 1, 1):
        raise argparse.ArgumentTypeError(f"{text!r}: the day must be between 2000-01-01 and 2199-12-31")
    return day


def run_migrate(_args: argparse.Namespace) -> int:
    from central.core.config import Settings
    from central.core.db import make_engine
    from central.core.migrate import upgrade

    settings = Settings()
    engine = make_engine(settings.sqlalchemy_url)
    upgrade(engine)
    engine.dispose()
    print(f"database at the latest schema: {engine.url.render_as_string(hide_password=True)}")
    return 0


def server_tls(args: argparse.Namespace) -> dict[str, Any]:
    """uvicorn's TLS options from the flags or the settings, every file checked; ``{}`` for plain HTTP. Raises
    :class:`parking.tls.TlsSettingError` naming the flag and the setting of a file that is missing or not PEM.
    With a client CA, uvicorn speaks HTTP with :class:`central.core.tls.TlsH11Protocol`, which tells the app the
    client's certificate (so that an edge's token is taken only with that edge's certificate)."""
    from pathlib import Path

    from central.core.config import Settings
    from central.core.tls import TlsH11Protocol
    from parking.tls import ServerTls, TlsSettingError

    settings = Settings()
    cert = args.tls_cert or settings.tls_cert_file
    key = args.tls_key or settings.tls_key_file
    client_ca = args.tls_client_ca or settings.tls_client_ca_file
    client_crl = args.tls_client_crl or settings.tls_client_crl_file
    names = ("--tls-cert / PARKGATE_TLS_CERT_FILE", "--tls-key / PARKGATE_TLS_KEY_FILE",
             "--tls-client-ca / PARKGATE_TLS_CLIENT_CA_FILE",
             "--tls-client-crl / PARKGATE_TLS_CLIENT_CRL_FILE")  # fmt: skip
    if cert is None and key is None:
        if client_ca is not None or client_crl is not None:
            setting = names[2] if client_ca is not None else names[3]
            raise TlsSettingError(setting, "client certificates need TLS: give the server's certificate and key too")
        return {}
    if cert is None or key is None:
        raise TlsSettingError(names[0] if cert is None else names[1], "TLS needs both the certificate and its key")
    tls = ServerTls(Path(cert), Path(key), Path(client_ca) if client_ca else None, names,
                    Path(client_crl) if client_crl else None)  # fmt: skip
    options = tls.uvicorn_options()
    if client_ca is not None:
        options["http"] = TlsH11Protocol
    return options


def run_server(args: argparse.Namespace) -> int:
    from pathlib import Path

    import uvicorn

    from central.main import create_app
    from parking.tls import TlsSettingError

    try:
        tls = server_tls(args)
    except TlsSettingError as err:
        print(f"parkgate: error: {err}", file=sys.stderr)
        return 2
    if "http" in tls:  # client certificates: the app (each worker reads its settings) binds them to the edges
        os.environ["PARKGATE_EDGE_CLIENT_CERTIFICATES"] = "true"
        os.environ["PARKGATE_TLS_CLIENT_CA_FILE"] = str(Path(tls["ssl_ca_certs"]).resolve())
    if "ssl_context_factory" in tls:  # and checks them against the CRL file as it is at each request
        os.environ["PARKGATE_TLS_CLIENT_CRL_FILE"] = str(tls["ssl_context_factory"].crl_file.resolve())
    if not args.no_migrate:
        run_migrate(args)
    if args.workers > 1 and hasattr(socket, "SO_REUSEPORT"):
        return _serve_workers(args.host, args.port, args.workers, tls)
    if args.workers > 1:
        uvicorn.run("central.main:create_app", factory=True, host=args.host, port=args.port, workers=args.workers,
                    log_config=None, **tls)  # fmt: skip
    else:
        uvicorn.run(create_app(), host=args.host, port=args.port, log_config=None, **tls)
    return 0


def _serve_workers(host: str, port: int, workers: int, tls: dict[str, Any]) -> int:
    """Serve with ``workers`` processes, each listening on its own socket bound to the same port (``SO_REUSEPORT``),
    so the kernel spreads the connections over them. (uvicorn's own workers share one socket: the first to wake
    accepts a whole burst of connections, and edges keep theirs open, so one worker would serve nearly all.)
    Stops them all on SIGTERM or SIGINT; answers the first non-zero exit code of a worker, or 0."""
    import multiprocessing
    import signal

    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_serve_worker, args=(host, port, tls), name=f"central-worker-{n}")
                 for n in range(workers)]  # fmt: skip
    for process in processes:
        process.start()

    def stop(signum: int, _frame: Any) -> None:
        for process in processes:
            if process.is_alive():
                process.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    codes = []
    for process in processes:
        process.join()
        codes.append(process.exitcode or 0)
        stop(signal.SIGTERM, None)  # one worker gone: the service is down, stop the others too
    return next((code for code in codes if code not in (0, -signal.SIGTERM)), 0)


def worker_socket(host: str, port: int) -> socket.socket:
    """A worker's own listening socket on ``host:port``, shared with the other workers' (``SO_REUSEPORT``)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named, not 0: asyncio sets TCP_NODELAY only on sockets whose proto says TCP, and without it Nagle's
    # algorithm meets the client's delayed ACK and every small answer waits 40 ms (a delta sync took 52 ms, not 7).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def _serve_worker(host: str, port: int, tls: dict[str, Any]) -> None:
    import uvicorn

    sock = worker_socket(host, port)
    config = uvicorn.Config("central.main:create_app", factory=True, host=host, port=port, log_config=None, **tls)
    uvicorn.Server(config).run(sockets=[sock])


def run_retention_purge(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime
    from pathlib import Path

    from central.core.config import Settings
    from central.core.db import make_engine, make_session_factory
    from central.privacy import purge

    settings = Settings()
    engine = make_engine(settings.sqlalchemy_url)
    by = args.by or getpass.getuser()
    with make_session_factory(engine)() as session:
        report = purge(session, settings.retention, now=datetime.now(UTC), user=None,
                       images_dir=Path(settings.edge_images_dir), by=by)  # fmt: skip
    engine.dispose()
    print(
        f"purge (audit {report.audit_id}) by {by}: {report.records} records lost {report.fields} personal fields, "
        f"{report.quotes} quotes and orders their plate, {report.files} pictures deleted ({report.bytes} bytes)"
    )
    return 0


def run_verify_chain(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from central.core.config import Settings
    from central.core.db import make_engine, make_session_factory
    from central.privacy import verify_stored_chain

    settings = Settings()
    engine = make_engine(settings.sqlalchemy_url)
    with make_session_factory(engine)() as session:
        chain = verify_stored_chain(session, args.edge_id, retention=settings.retention, now=datetime.now(UTC))
    engine.dispose()
    if chain.ok:
        print(f"edge {args.edge_id}: chain OK, {chain.checked} records ({chain.purged} purged: linked, not recomputed)")
        return 0
    for seq, problem in chain.problems[:50]:
        print(f"edge {args.edge_id}: seq {seq}: {problem}")
    print(f"edge {args.edge_id}: chain BROKEN in {len(chain.problems)} places ({chain.checked} records checked)")
    return 1


def run_create_user(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from central.audit import record_change, snapshot
    from central.core.config import Settings
    from central.core.db import make_engine, make_session_factory
    from central.core.security import hash_password
    from central.models import User

    password = os.environ.get("PARKGATE_NEW_PASSWORD") or getpass.getpass(f"password for {args.username}: ")
    if len(password) < 8:
        print("parkgate: error: the password needs at least 8 characters", file=sys.stderr)
        return 1
    engine = make_engine(Settings().sqlalchemy_url)
    with make_session_factory(engine)() as session:
        if session.scalars(select(User).where(User.username == args.username)).first() is not None:
            print(f"parkgate: error: user {args.username!r} exists", file=sys.stderr)
            return 1
        user = User(username=args.username, full_name=args.full_name, role=args.role,
                    password_hash=hash_password(password))  # fmt: skip
        session.add(user)
        session.flush()
        record_change(session, None, "user.create", "user", user.id, None, snapshot(user))
        session.commit()
    engine.dispose()
    print(f"created {args.role} {args.username!r}")
    return 0


def run_create_edge(args: argparse.Namespace) -> int:
    from central.audit import record_change, snapshot
    from central.core.config import Settings
    from central.core.db import make_engine, make_session_factory, utcnow
    from central.core.security import new_token, token_digest
    from central.models import CarPark, Edge

    engine = make_engine(Settings().sqlalchemy_url)
    with make_session_factory(engine)() as session:
        if session.get(Edge, args.edge_id) is not None:
            print(f"parkgate: error: edge {args.edge_id!r} exists (rotate its token in the API)", file=sys.stderr)
            return 1
        if session.get(CarPark, args.car_park) is None:
            car_park = CarPark(id=args.car_park, name=args.car_park_name or args.car_park)
            session.add(car_park)
            session.flush()
            record_change(session, None, "car_park.create", "car_park", car_park.id, None, snapshot(car_park))
        token = new_token("pge")
        edge = Edge(id=args.edge_id, car_park_id=args.car_park, name=args.edge_id, token_hash=token_digest(token),
                    token_issued_at=utcnow())  # fmt: skip
        session.add(edge)
        session.flush()
        record_change(session, None, "edge.create", "edge", edge.id, None, snapshot(edge))
        session.commit()
    engine.dispose()
    print(token)
    return 0


def run_purge(_args: argparse.Namespace) -> int:
    from datetime import timedelta

    from central.core.config import Settings
    from central.core.db import make_engine, make_session_factory
    from central.publication import purge_tombstones

    settings = Settings()
    engine = make_engine(settings.sqlalchemy_url)
    with make_session_factory(engine)() as session:
        purged = purge_tombstones(session, timedelta(days=settings.tombstone_days))
        session.commit()
    engine.dispose()
    print(f"purged {purged} deletions older than {settings.tombstone_days} days")
    return 0


def run_expire(_args: argparse.Namespace) -> int:
    from central.core.config import Settings
    from central.core.db import make_engine, make_session_factory, utcnow
    from central.renewal import expire_lapsed_passes

    engine = make_engine(Settings().sqlalchemy_url)
    with make_session_factory(engine)() as session:
        expired = expire_lapsed_passes(session, utcnow())
        session.commit()
    engine.dispose()
    print(f"{expired} passes expired")
    return 0


def run_rebuild_projections(_args: argparse.Namespace) -> int:
    from central.core.config import Settings
    from central.core.db import make_engine, make_session_factory
    from central.reconciliation.projection import rebuild_projections

    engine = make_engine(Settings().sqlalchemy_url)
    with make_session_factory(engine)() as session:
        rows = rebuild_projections(session)
        session.commit()
    engine.dispose()
    print(f"money records projection rebuilt: {rows} records")
    return 0


def run_reconcile(args: argparse.Namespace) -> int:
    import json

    from central.api.routes.reconciliation import reconcile_settings
    from central.core.config import Settings
    from central.core.db import make_engine, make_session_factory, utcnow
    from central.models import CarPark
    from central.reconciliation.loader import reconcile_day
    from central.reconciliation.text import day_text

    settings = Settings()
    engine = make_engine(settings.sqlalchemy_url)
    with make_session_factory(engine)() as session:
        if session.get(CarPark, args.car_park) is None:
            print(f"parkgate: error: no car park {args.car_park!r}", file=sys.stderr)
            engine.dispose()
            return 1
        result = reconcile_day(session, args.car_park, args.day, reconcile_settings(settings), utcnow())
    engine.dispose()
    if args.json:
        print(json.dumps(result.as_json(), ensure_ascii=False, indent=2, default=str))
    else:
        print(day_text(result))
    return 0


def run_billing_daily(args: argparse.Namespace) -> int:
    from central.billing.daily import run_daily
    from central.core.config import Settings

    suspended, sent, failed = run_daily(Settings(), args.reminder_days)
    print(f"{suspended} passes suspended for arrears, {sent} reminders sent, {failed} failed")
    return 1 if failed else 0


def run_rebuild_rollups(_args: argparse.Namespace) -> int:
    from central.core.config import Settings
    from central.core.db import make_engine, make_session_factory
    from central.reports.rollups import rebuild

    engine = make_engine(Settings().sqlalchemy_url)
    with make_session_factory(engine)() as session:
        counted = rebuild(session)
        session.commit()
    engine.dispose()
    print(f"report rollups rebuilt: {counted} records counted")
    return 0
