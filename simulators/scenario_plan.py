"""A scenario file (``config/scenarios/*.toml``) and the day of traffic it plans.

A scenario names its simulated start, how many simulated hours it lasts and its default speed; its traffic gives the
arrivals of each hour, the dwell-time distribution, the mix of pass holders, temporary visitors, free vehicles and
blacklisted ones, and the plate misread and no-read rates; its shifts say which collector takes the booth at which
local time (the first one opens at the start; each later one is a handover), and how often the collector on duty
drops the drawer's takings into a sealed bag (投包). Besides the mix, the traffic gives the share of pass holders who
present their access card at the entry's reader, and of visitors who lost their temporary card (临租卡) and pay the
lost-card fee at the attended exit; the faults on its timetable are central offline, a barrier fault, a loop stuck on
presence and a camera gone silent, each at a lane and for some minutes. :func:`plan_day` turns it into
:class:`~simulators.traffic.Visit` s whose times are real seconds after the start at the scenario's speed, so the
:class:`~simulators.traffic.TrafficRunner` plays them unchanged. The plan is a pure function of the file and its seed.
"""

from __future__ import annotations

import math
import random
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from simulators.traffic import ReadFault, VehicleKind, Visit, visitor_plate

KINDS = ("pass", "temporary", "free", "special", "blacklisted")


class ScenarioError(ValueError):
    """The scenario file is wrong: the message names the file and the key."""


@dataclass(frozen=True, slots=True)
class Shift:
    collector: str
    name: str
    pin: str
    starts: datetime  # the handover (the first shift: the scenario's start)
    dishonest: bool = False  # opens the barrier by hand for visitors' cash and keeps it; charges lost-card fees


FAULTS = ("central_offline", "barrier_fault", "loop_stuck", "camera_offline")
LANE_FAULTS = frozenset({"barrier_fault", "loop_stuck", "camera_offline"})
LOOPS = ("arming", "safety")


@dataclass(frozen=True, slots=True)
class Fault:
    """central_offline: central stops; barrier_fault: the lane's barrier reports a fault; loop_stuck: a loop of the
    lane reports presence with no vehicle on it (its detector's output held); camera_offline: the lane's camera
    pushes nothing."""

    kind: str
    starts: datetime
    ends: datetime
    lane: str = ""
    loop: str = ""  # loop_stuck: arming / safety


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    start: datetime
    hours: int
    speed: float
    seed: int
    arrivals: tuple[int, ...]  # per simulated hour from the start
    dwell_median_min: float
    dwell_sigma: float  # of the log-normal distribution of stays
    dwell_max_min: float
    mix: dict[str, float]  # pass / temporary / free / special / blacklisted, summing to 1
    misread_rate: float
    no_read_rate: float
    passes: int  # monthly pass holders set up at central
    blacklisted: int  # blacklisted plates set up at central
    shifts: tuple[Shift, ...]
    faults: tuple[Fault, ...] = ()
    special: int = 0  # special vehicles (特殊车辆: hearse, VIP, contractor) registered at central
    card_rate: float = 0.0  # of pass holders' visits: the holder presents the access card at the entry's reader
    lost_card_rate: float = 0.0  # of temporary visitors: lost the temporary card, pays the lost-card fee
    cash_drop_hours: float = 0.0  # the collector on duty drops the drawer's takings every so many hours (0: never)

    @property
    def end(self) -> datetime:
        return self.start + timedelta(hours=self.hours)


def _get(table: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str, default: Any = None) -> Any:
    value = table.get(key, default)
    if value is None:
        raise ScenarioError(f"{where}: '{key}' is missing")
    if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
        raise ScenarioError(f"{where}: '{key}' = {value!r} is not {getattr(kind, '__name__', 'a number')}")
    return value


def _rate(table: dict[str, Any], key: str, where: str) -> float:
    value = float(_get(table, key, (int, float), where, 0.0))
    if not 0.0 <= value <= 1.0:
        raise ScenarioError(f"{where}: '{key}' = {value} is not a share between 0 and 1")
    return value


def load_scenario(path: Path) -> Scenario:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ScenarioError(f"{path}: {err}") from None
    return parse_scenario(data, str(path))


def parse_scenario(data: dict[str, Any], source: str) -> Scenario:
    head = _get(data, "scenario", dict, source)
    where = f"{source} [scenario]"
    try:
        start = datetime.fromisoformat(_get(head, "start", str, where))
    except ValueError:
        raise ScenarioError(f"{where}: 'start' = {head['start']!r} is not an ISO 8601 instant") from None
    if start.tzinfo is None:
        raise ScenarioError(f"{where}: 'start' = {head['start']!r} has no UTC offset")
    zone = ZoneInfo(_get(head, "timezone", str, where, "Asia/Shanghai"))
    start = start.astimezone(zone)
    hours = _get(head, "hours", int, where)
    traffic = _get(data, "traffic", dict, source)
    twhere = f"{source} [traffic]"
    arrivals = tuple(_get(traffic, "arrivals_per_hour", list, twhere))
    if len(arrivals) != hours or not all(isinstance(a, int) and not isinstance(a, bool) and a >= 0 for a in arrivals):
        raise ScenarioError(f"{twhere}: 'arrivals_per_hour' needs {hours} counts (one per hour of the scenario), "
                            f"whole numbers from 0; it has {len(arrivals)}")  # fmt: skip
    mix_table = _get(traffic, "mix", dict, twhere)
    unknown = set(mix_table) - set(KINDS)
    if unknown:
        raise ScenarioError(f"{twhere}.mix: unknown {', '.join(sorted(unknown))} (known: {', '.join(KINDS)})")
    mix = {kind: _rate(mix_table, kind, f"{twhere}.mix") for kind in KINDS}
    if not math.isclose(sum(mix.values()), 1.0, abs_tol=1e-6):
        raise ScenarioError(f"{twhere}.mix: the shares add up to {sum(mix.values()):.3f}, not 1")
    dwell = _get(traffic, "dwell", dict, twhere)
    speed = float(_get(head, "speed", (int, float), where))
    if speed <= 0:
        raise ScenarioError(f"{where}: 'speed' = {speed} must be above 0")
    scenario = Scenario(
        name=_get(head, "name", str, where), start=start, hours=hours, speed=speed,
        seed=_get(head, "seed", int, where, 1), arrivals=arrivals,
        dwell_median_min=float(_get(dwell, "median_minutes", (int, float), f"{twhere}.dwell")),
        dwell_sigma=float(_get(dwell, "sigma", (int, float), f"{twhere}.dwell", 0.8)),
        dwell_max_min=float(_get(dwell, "max_minutes", (int, float), f"{twhere}.dwell", 24 * 60)),
        mix=mix, misread_rate=_rate(traffic, "misread_rate", twhere),
        no_read_rate=_rate(traffic, "no_read_rate", twhere),
        passes=_get(traffic, "passes", int, twhere, 8), blacklisted=_get(traffic, "blacklisted", int, twhere, 2),
        shifts=_shifts(data, source, start, start + timedelta(hours=hours)),
        faults=_faults(data, source, start, start + timedelta(hours=hours)),
        special=_count(traffic, "special", twhere, 2 if mix["special"] else 0),
        card_rate=_rate(traffic, "card_rate", twhere), lost_card_rate=_rate(traffic, "lost_card_rate", twhere),
        cash_drop_hours=_cash_drop_hours(data, source, hours),
    )  # fmt: skip
    if scenario.mix["special"] and not scenario.special:
        raise ScenarioError(f"{twhere}: 'special' = 0 registers no special vehicle, but the mix has special "
                            f"{scenario.mix['special']}")  # fmt: skip
    return scenario


def _count(table: dict[str, Any], key: str, where: str, default: int) -> int:
    value = _get(table, key, int, where, default)
    if value < 0:
        raise ScenarioError(f"{where}: '{key}' = {value} is not a count from 0")
    return int(value)


def _cash_drop_hours(data: dict[str, Any], source: str, hours: int) -> float:
    booth = _get(data, "booth", dict, source, {})
    where = f"{source} [booth]"
    unknown = set(booth) - {"cash_drop_hours"}
    if unknown:
        raise ScenarioError(f"{where}: unknown {', '.join(sorted(unknown))} (known: cash_drop_hours)")
    every = float(_get(booth, "cash_drop_hours", (int, float), where, 0))
    if every < 0 or (every and every < 0.25):
        raise ScenarioError(f"{where}: 'cash_drop_hours' = {every} must be 0 (no drops) or at least 0.25")
    return every


def _local(table: dict[str, Any], where: str, start: datetime, end: datetime) -> datetime:
    """The table's ``at`` (a local time) as the first such instant from the start, within the scenario."""
    try:
        local = time.fromisoformat(_get(table, "at", str, where))
    except ValueError:
        raise ScenarioError(f"{where}: 'at' = {table['at']!r} is not a local time such as \"14:00\"") from None
    at = datetime.combine(start.date(), local, start.tzinfo)
    at += timedelta(days=1) if at < start else timedelta()
    if at >= end:
        raise ScenarioError(f"{where}: {at:%H:%M} is not within the scenario ({start:%H:%M} to {end:%H:%M})")
    return at


SITE_LANES = ("in-1", "in-2", "out-1", "out-2")  # the simulated car park's lanes (simulators.demo_site)


def _faults(data: dict[str, Any], source: str, start: datetime, end: datetime,
            lanes: tuple[str, ...] = SITE_LANES) -> tuple[Fault, ...]:  # fmt: skip
    faults = []
    for number, table in enumerate(_get(data, "faults", list, source, []), start=1):
        where = f"{source} [[faults]] #{number}"
        kind = _get(table, "kind", str, where)
        if kind not in FAULTS:
            raise ScenarioError(f"{where}: 'kind' = {kind!r} is not one of {', '.join(FAULTS)}")
        at = _local(table, where, start, end)
        minutes = _get(table, "minutes", (int, float), where)
        if minutes <= 0:
            raise ScenarioError(f"{where}: 'minutes' = {minutes} must be above 0")
        lane = _get(table, "lane", str, where) if kind in LANE_FAULTS else ""
        if lane and lane not in lanes:
            raise ScenarioError(f"{where}: 'lane' = {lane!r} is not a lane of the car park ({', '.join(lanes)})")
        loop = _get(table, "loop", str, where, "arming") if kind == "loop_stuck" else ""
        if kind == "loop_stuck" and loop not in LOOPS:
            raise ScenarioError(f"{where}: 'loop' = {loop!r} is not one of {', '.join(LOOPS)}")
        faults.append(Fault(kind, at, min(at + timedelta(minutes=minutes), end), lane, loop))
    return tuple(faults)


def _shifts(data: dict[str, Any], source: str, start: datetime, end: datetime) -> tuple[Shift, ...]:
    tables = _get(data, "shifts", list, source)
    shifts: list[Shift] = []
    for number, table in enumerate(tables, start=1):
        where = f"{source} [[shifts]] #{number}"
        if not isinstance(table, dict):
            raise ScenarioError(f"{where}: not a table")
        at = start if number == 1 else _local(table, where, start, end)
        if shifts and at <= shifts[-1].starts:
            raise ScenarioError(f"{where}: the handover at {at:%H:%M} is not after the previous one")
        pin = str(_get(table, "pin", str, where))
        if not (pin.isdigit() and 4 <= len(pin) <= 8):
            raise ScenarioError(f"{where}: 'pin' must be 4 to 8 digits")
        dishonest = _get(table, "dishonest", bool, where, False)
        shifts.append(Shift(_get(table, "collector", str, where), _get(table, "name", str, where), pin, at, dishonest))
    if not shifts:
        raise ScenarioError(f"{source}: a scenario needs at least one [[shifts]] (the booth's collector)")
    return tuple(shifts)


# ------------------------------------------------------------------------------------------- the plan


@dataclass(frozen=True, slots=True)
class Lanes:
    entries: tuple[str, ...]
    attended_exits: tuple[str, ...]
    unattended_exits: tuple[str, ...]


def plate_pool(prefix: str, count: int) -> tuple[str, ...]:
    """``count`` distinct plates of a list (passes 粤B P…, blacklist 粤B X…): the same every run."""
    return tuple(f"粤B{prefix}{n:04d}" for n in range(1, count + 1))


def plan_day(scenario: Scenario, lanes: Lanes, passes: tuple[str, ...], free: tuple[str, ...],
             blacklist: tuple[str, ...], special: tuple[str, ...] = (),
             cards: Mapping[str, str] | None = None) -> list[Visit]:  # fmt: skip
    """The scenario's visits, ``arrive_s`` and ``stay_s`` in real seconds at its speed. A pass, free or special
    vehicle comes back only after its planned exit; blacklisted vehicles are turned away at the entry. ``cards``
    maps a pass's plate to its access card: at ``card_rate`` its holder presents the card at the entry. At
    ``lost_card_rate`` a temporary visitor has lost the temporary card by the time it leaves."""
    rng = random.Random(scenario.seed)
    extra = random.Random(scenario.seed * 7919 + 17)  # cards and lost cards: the rest of the plan as before
    visits: list[Visit] = []
    back_at: dict[str, float] = {}
    pools = {"pass": passes, "free": free, "special": special, "blacklisted": blacklist}
    kinds, weights = list(scenario.mix), list(scenario.mix.values())
    for hour, count in enumerate(scenario.arrivals):
        for at in sorted(rng.uniform(hour, hour + 1) * 3600 for _ in range(count)):
            kind = rng.choices(kinds, weights)[0]
            candidates = [p for p in pools.get(kind, ()) if back_at.get(p, -1.0) < at]
            plate = rng.choice(candidates) if candidates else ""
            if not plate:
                kind, plate = "temporary", visitor_plate(rng)
                while plate in back_at:
                    plate = visitor_plate(rng)
            stay = min(rng.lognormvariate(math.log(scenario.dwell_median_min), scenario.dwell_sigma),
                       scenario.dwell_max_min) * 60  # fmt: skip
            back_at[plate] = at + stay + 1800.0
            visit = _visit(scenario, lanes, rng, len(visits) + 1, plate, kind, at, stay)
            card_roll, lost_roll = extra.random(), extra.random()
            card = (cards or {}).get(plate, "") if kind == "pass" and card_roll < scenario.card_rate else ""
            lost = kind == "temporary" and lost_roll < scenario.lost_card_rate
            visits.append(replace(visit, card=card, lost_card=lost) if card or lost else visit)
    return visits


def _visit(scenario: Scenario, lanes: Lanes, rng: random.Random, number: int, plate: str, kind: str, at: float,
           stay: float) -> Visit:  # fmt: skip
    roll = rng.random()
    entry_fault = ReadFault.MISREAD if roll < scenario.misread_rate else ReadFault.NONE
    vehicle_kind = {"pass": VehicleKind.PASS, "free": VehicleKind.FREE, "special": VehicleKind.SPECIAL}.get(
        kind, VehicleKind.VISITOR
    )
    visitor = vehicle_kind is VehicleKind.VISITOR  # temporary, or blacklisted (turned away at the entry)
    no_read = visitor and scenario.misread_rate <= roll < scenario.misread_rate + scenario.no_read_rate
    exits = lanes.attended_exits if visitor or not lanes.unattended_exits else lanes.unattended_exits
    colour = "white" if plate.endswith("警") else ("green" if len(plate) == 8 else "blue")
    return Visit(
        number=number, plate=plate, kind=vehicle_kind, entry_lane=rng.choice(lanes.entries),
        exit_lane=rng.choice(exits), arrive_s=round(at / scenario.speed, 3), stay_s=round(stay / scenario.speed, 3),
        entry_fault=entry_fault, exit_fault=ReadFault.NO_READ if no_read else ReadFault.NONE, colour=colour,
    )  # fmt: skip
