"""The demo: ParkGate on embedded defaults (SQLite files, simulated devices), started by ``make demo``.

It grows with the system: each step below runs when its component is present.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from parking.site import SiteError, load_site, summary

_LOGGER = logging.getLogger(__name__)

CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"


def run_demo(args: argparse.Namespace) -> int:
    """Check the example sites, then run the parts of the system that exist."""
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    print("ParkGate demo")
    print("=============")
    for site_file in sorted(CONFIG_DIR.glob("*.toml")):
        try:
            site = load_site(site_file)
        except SiteError as err:
            print(f"{site_file.name}: INVALID")
            for problem in err.problems:
                print(f"  {problem}")
            return 1
        print(f"{site_file.name}: {summary(site)}")
    return 0
