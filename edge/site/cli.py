"""``parkgate config check FILE``: validate a site file and summarise it, or list every problem with its key path."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    config = subparsers.add_parser("config", help="check site configuration files")
    actions = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    check = actions.add_parser("check", help="validate a site file: OK and a summary, or every error with its key")
    check.add_argument("files", nargs="+", type=Path, metavar="FILE")
    check.set_defaults(handler=run_check)


def run_check(args: argparse.Namespace) -> int:
    from edge.site import SiteError, load_site, summary

    status = 0
    for file in args.files:
        try:
            site = load_site(file)
        except SiteError as err:
            status = 1
            print(f"{file}: {len(err.problems)} error{'s' if len(err.problems) != 1 else ''}", file=sys.stderr)
            for problem in err.problems:
                print(f"  {problem}", file=sys.stderr)
            continue
        print(f"{file}: OK")
        print(f"  {summary(site)}")
    return status
