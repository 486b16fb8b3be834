"""The site file's booths: which booth staffs which lane, checked across sections (every problem at its key path).

A site without ``[booths]`` has one booth over every lane (:meth:`edge.site.model.SiteConfig.booth_lanes`). With
booths, every lane belongs to exactly one: its exits are counted by that booth's shift and its entries' temporary
cards against that booth's stock, so a lane left out (or claimed twice) would leave exits uncounted (or counted
twice).
"""

from __future__ import annotations

from edge.site.model import SiteConfig


def booth_problems(site: SiteConfig) -> list[tuple[str, str]]:
    """(key path, message) for each lane named by no booth, claimed by two or unknown, and each shared console."""
    problems: list[tuple[str, str]] = []
    if not site.booths:
        return problems
    lanes = [lane.id for lane in site.lanes]
    owner: dict[str, str] = {}
    listeners: dict[str, str] = {}
    without_listener: list[str] = []
    for booth, config in site.booths.items():
        for index, lane in enumerate(config.lanes):
            path = f"booths.{booth}.lanes[{index}]"
            if lane not in lanes:
                problems.append((path, f"unknown lane {lane!r}; lanes: {', '.join(lanes)}"))
            elif lane in owner:
                problems.append((path, f"lane {lane!r} is staffed by booth {owner[lane]!r} already"))
            else:
                owner[lane] = booth
        listen = config.console_listen
        if listen is None:
            without_listener.append(booth)
        elif listen in listeners and not listen.endswith(":0"):
            problems.append((f"booths.{booth}.console_listen", f"{listen} is booth {listeners[listen]!r}'s console"))
        elif listen == site.console.listen:
            problems.append((f"booths.{booth}.console_listen", f"{listen} is [console] listen (the first booth's)"))
        else:
            listeners[listen] = booth
    for index, lane in enumerate(lanes):
        if lane not in owner:
            problems.append((f"lanes[{index}]", f"lane {lane!r} belongs to no booth; booths: {', '.join(site.booths)}"))
    if len(without_listener) > 1:
        names = ", ".join(without_listener[1:])
        message = f"only one booth's console is on [console] listen: give {names} a console_listen"
        problems.append((f"booths.{without_listener[1]}.console_listen", message))
    return problems
