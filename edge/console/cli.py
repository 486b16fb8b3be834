"""``parkgate edge operator ...``: the booth's operators (collectors and supervisors) and their PINs.

The PIN is read from the terminal twice (hidden), or as one line from standard input when that is not a terminal
(provisioning scripts); it never goes on the command line, where ``ps`` and shell history would keep it.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path


def register_operators(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    operator = actions.add_parser("operator", help="booth operators: add, set a PIN, disable, list, sign-in audit")
    commands = operator.add_subparsers(dest="operator_command", metavar="COMMAND", required=True)
    add = commands.add_parser("add", help="add a collector or supervisor (PIN asked for)")
    add.add_argument("--id", required=True, dest="operator_id")
    add.add_argument("--name", required=True)
    add.add_argument("--role", choices=("collector", "supervisor"), default="collector")
    set_pin = commands.add_parser("set-pin", help="replace an operator's PIN (clears a lock)")
    set_pin.add_argument("--id", required=True, dest="operator_id")
    disable = commands.add_parser("disable", help="refuse an operator's sign-in from now on")
    disable.add_argument("--id", required=True, dest="operator_id")
    commands.add_parser("list", help="the operators")
    audit = commands.add_parser("audit", help="sign-in attempts, oldest first")
    audit.add_argument("--id", dest="operator_id")
    for sub in commands.choices.values():
        sub.add_argument("--config", required=True, type=Path, metavar="SITE.toml")
        sub.add_argument("--by", help="who makes the change (default: your login name)")
    operator.set_defaults(handler=manage_operators)


def read_pin(confirm: bool = True) -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().strip()
    pin = getpass.getpass("PIN (4 to 8 digits): ")
    if confirm and getpass.getpass("PIN again: ") != pin:
        from parking.cli import UsageError

        raise UsageError("the two PINs differ")
    return pin


def manage_operators(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from edge.booth.desk import operators_path
    from edge.booth.operators import OperatorError, OperatorStore, Role
    from edge.site import SiteError, load_site
    from parking.cli import UsageError

    try:
        site = load_site(args.config)
    except SiteError as err:
        raise UsageError(str(err)) from None
    journal = Path(site.journal.path)
    journal = journal if journal.is_absolute() else args.config.parent / journal
    journal.parent.mkdir(parents=True, exist_ok=True)
    store = OperatorStore(operators_path(journal), clock=lambda: datetime.now(UTC))
    command, by = args.operator_command, args.by or getpass.getuser()
    try:
        if command == "add":
            store.add(args.operator_id, args.name, Role(args.role), read_pin(), by=by)
            print(f"operator {args.operator_id} ({args.name}, {args.role}) added")
        elif command == "set-pin":
            store.set_pin(args.operator_id, read_pin(), by=by)
            print(f"PIN of {args.operator_id} replaced")
        elif command == "disable":
            if store.get(args.operator_id) is None:
                raise UsageError(f"no operator {args.operator_id!r}")
            store.set_active(args.operator_id, False, by=by)
            print(f"operator {args.operator_id} disabled")
        elif command == "list":
            for row in store.db.execute("SELECT id, name, role, active FROM booth_operator ORDER BY id"):
                print(f"{row[0]}\t{row[1]}\t{row[2]}\t{'active' if row[3] else 'disabled'}")
        elif command == "audit":
            for attempt in store.audit(args.operator_id):
                print(f"{attempt.at.isoformat()}\t{attempt.operator}\t{attempt.booth}\t{attempt.purpose}\t"
                      f"{attempt.outcome.value}\t{attempt.detail}\t{attempt.source}")  # fmt: skip
    except OperatorError as err:
        raise UsageError(str(err)) from None
    finally:
        store.db.close()
    return 0
