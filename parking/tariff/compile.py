"""Loading a tariff: TOML text -> shape check (:mod:`parking.tariff.spec`) -> cross checks -> a frozen :class:`Tariff`.

The :class:`Tariff` holds the validated file and, beside it, the same prices pre-compiled into plain tuples of
integers (seconds and minor units) so that quoting never touches pydantic or ``Decimal``.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from types import MappingProxyType
from zoneinfo import ZoneInfoNotFoundError

from pydantic import ValidationError

from parking.money import MoneyError, is_currency, parse_amount
from parking.tariff.errors import TariffFileError, TariffProblem
from parking.tariff.spec import BandSpec, LineSpec, TariffSpec
from parking.tariff.wall_clock import WallClock, wall_clock

# (span in seconds or None for the repeating last line, unit in seconds, price per started unit)
Line = tuple[int | None, int, int]
# (lines, cap per band occurrence or None)
Rate = tuple[tuple[Line, ...], int | None]
# (items (units, unit minutes, unit price), charged, amount after the band cap, cap applied or None) of a piece
PieceCost = tuple[tuple[tuple[int, int, int], ...], int, int, int | None]
# A day's band pattern: (second of the local day, band number) at each change, starting at second 0.
DayPattern = tuple[tuple[int, int], ...]

ALL_DAY = "all_day"
SPECIAL_DAY = "special_day"
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


@dataclass(frozen=True, slots=True)
class ClassPricing:
    """One vehicle class's compiled prices: a rate per band number, the cycle cap and the lost-card fee."""

    rates: tuple[Rate, ...]
    cycle_cap: int | None
    lost_card_fee: int | None
    # memo of piece costs by (band, seconds): long stays repeat the same full occurrences and cycles
    piece_costs: dict[tuple[int, int], PieceCost] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, slots=True, eq=False)
class Tariff:
    """A validated tariff, ready to quote. Build it with :func:`load_tariff` or :func:`parse_tariff`.

    ``content_hash`` is the SHA-256 of the file's bytes: with it a charge can be reproduced from the archived file.
    """

    id: str
    name: str
    currency: str
    timezone: str
    content_hash: str
    source: str
    spec: TariffSpec
    free_seconds: int
    free_deducted: bool
    grace_seconds: int
    max_stay: timedelta | None
    max_stay_seconds: int | None
    cycle_kind: str | None
    cycle_reset: int
    band_names: tuple[str, ...]
    normal_day: DayPattern
    special_day: DayPattern
    special_dates: frozenset[int]
    special_list: tuple[int, ...]
    classes: Mapping[str, ClassPricing]
    default_class: str
    lost_card_computed_if_more: bool
    clock: WallClock

    @property
    def vehicle_classes(self) -> tuple[str, ...]:
        """The vehicle classes this tariff prices."""
        return tuple(self.classes)


def load_tariff(path: str | Path) -> Tariff:
    """Read and validate a tariff file; raise :class:`TariffFileError` listing every problem with its key path."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        problem = TariffProblem("", f"cannot read the tariff file: {err.strerror or err}")
        raise TariffFileError(str(path), [problem]) from None
    return parse_tariff(raw, source=str(path))


def parse_tariff(text: str | bytes, source: str = "<tariff>") -> Tariff:
    """Validate tariff TOML given as text or bytes (``source`` names it in errors); returns a frozen :class:`Tariff`."""
    raw = text.encode("utf-8") if isinstance(text, str) else text
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise TariffFileError(source, [TariffProblem("", f"not UTF-8 text (byte {err.start})")]) from None
    except tomllib.TOMLDecodeError as err:
        raise TariffFileError(source, [TariffProblem("", f"TOML syntax error: {err}")]) from None
    try:
        spec = TariffSpec.model_validate(data)
    except ValidationError as err:
        raise TariffFileError(source, _shape_problems(err)) from None
    return compile_tariff(spec, content_hash=hashlib.sha256(raw).hexdigest(), source=source)


def _key_path(loc: Iterable[int | str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _shape_problems(err: ValidationError) -> list[TariffProblem]:
    problems: dict[tuple[str, str], TariffProblem] = {}
    for item in err.errors():
        # drop the function-validator and union branch names pydantic adds to locations
        loc = [p for p in item["loc"] if not (isinstance(p, str) and ("[" in p or p.startswith("function-")))]
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown key"
        elif item["type"] == "missing":
            message = "required key is missing"
        elif item["type"] == "value_error":
            message = message.removeprefix("Value error, ")
        elif item["type"] in ("string_pattern_mismatch", "literal_error", "enum"):
            message = f"{message}, got {item.get('input')!r}"
        path = _key_path(loc)
        problems.setdefault((path, message), TariffProblem(path, message))
    return list(problems.values())


def _minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


class _Checker:
    """Collects problems while compiling, so that every problem of a file is reported at once."""

    def __init__(self, currency: str) -> None:
        self.currency = currency if is_currency(currency) else "CNY"
        self.problems: list[TariffProblem] = []

    def add(self, path: str, message: str) -> None:
        self.problems.append(TariffProblem(path, message))

    def amount(self, text: str | None, path: str) -> int | None:
        if text is None:
            return None
        try:
            value = parse_amount(text, self.currency)
        except MoneyError as err:
            self.add(path, str(err))
            return 0
        if value < 0:
            self.add(path, f"negative amount {text.strip()!r}: prices, caps and fees must be >= 0")
            return 0
        return value

    def lines(self, specs: list[LineSpec], path: str) -> tuple[Line, ...]:
        out: list[Line] = []
        for i, line in enumerate(specs):
            last = i == len(specs) - 1
            if last and line.units is not None:
                self.add(f"{path}[{i}].units", "the last line repeats to the end of the stay: leave out 'units'")
            if not last and line.units is None:
                self.add(f"{path}[{i}].units", "a line followed by another needs 'units' (how many units it covers)")
            price = self.amount(line.price, f"{path}[{i}].price") or 0
            unit = line.unit_minutes * 60
            out.append((None if last else unit * (line.units or 1), unit, price))
        return tuple(out)

    def bands(self, bands: list[BandSpec], path: str) -> list[tuple[int, int, int]]:
        """Check that the bands cover the day exactly once; return (start, end, index) minute segments."""
        segments: list[tuple[int, int, int]] = []
        for i, band in enumerate(bands):
            start, end = _minutes(band.start), _minutes(band.end)
            if start == 1440:
                self.add(f"{path}[{i}].from", "a band cannot start at 24:00 (write 00:00)")
                continue
            if end == start or (start == 0 and end == 1440):
                segments.append((0, 1440, i))
            elif end > start:
                segments.append((start, end, i))
            else:
                segments.append((start, 1440, i))
                if end:
                    segments.append((0, end, i))
        segments.sort()
        reach, owner = 0, -1
        for start, end, i in segments:
            if start < reach:
                self.add(
                    f"{path}[{i}]",
                    f"band {bands[i].name!r} overlaps band {bands[owner].name!r} "
                    f"({_hhmm(start)}-{_hhmm(min(end, reach))})",
                )
            elif start > reach:
                self.add(f"{path}[{i}]", f"no band covers {_hhmm(reach)}-{_hhmm(start)} (bands must cover the day)")
            if end > reach:
                reach, owner = end, i
        if segments and reach < 1440:
            self.add(f"{path}[{owner}]", f"no band covers {_hhmm(reach)}-24:00 (bands must cover the day)")
        return segments


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _pattern(segments: list[tuple[int, int, int]], offset: int) -> DayPattern:
    changes: list[tuple[int, int]] = []
    for start, _end, index in sorted(segments):
        if not changes or changes[-1][1] != index + offset:
            changes.append((start * 60, index + offset))
    return tuple(changes) if changes and changes[0][0] == 0 else ((0, offset),)


def _scaled(value: int | None, factor: Fraction) -> int | None:
    if value is None:
        return None
    # exact rounding half up to the minor unit
    return (2 * value * factor.numerator + factor.denominator) // (2 * factor.denominator)


def _geometry(
    check: _Checker, spec: TariffSpec
) -> tuple[list[str], list[Rate], DayPattern, DayPattern, frozenset[int]]:
    """Band names and base rates by band number (the normal day's bands, then the special days'), the two day
    patterns, and the special dates as local day numbers."""
    names: list[str] = []
    rates: list[Rate] = []
    paths: list[str] = []
    if (spec.lines is None) == (spec.bands is None):
        check.add("lines", "give either 'lines' (one price all day) or 'bands' (time-of-day bands), not both")
    normal: DayPattern = ((0, 0),)
    if spec.bands is not None:
        normal = _pattern(check.bands(spec.bands, "bands"), 0)
        for i, band in enumerate(spec.bands):
            names.append(band.name)
            paths.append(f"bands[{i}]")
            rates.append((check.lines(band.lines, f"bands[{i}].lines"), check.amount(band.cap, f"bands[{i}].cap")))
    else:
        names.append(ALL_DAY)
        paths.append("lines")
        rates.append((check.lines(spec.lines or [], "lines"), None))
    special, dates = normal, frozenset[int]()
    if spec.special_days is not None:
        sd = spec.special_days
        dates = frozenset(d.toordinal() - _EPOCH_ORDINAL for d in sd.dates)
        if len(dates) != len(sd.dates):
            check.add("special_days.dates", "a date is listed twice")
        first = len(names)
        if (sd.lines is None) == (sd.bands is None):
            check.add("special_days", "give either 'lines' (one price all day) or 'bands', not both")
        if sd.bands is not None:
            if sd.cap is not None:
                check.add("special_days.cap", "with special-day bands, give each band its own cap")
            special = _pattern(check.bands(sd.bands, "special_days.bands"), first)
            for i, band in enumerate(sd.bands):
                path = f"special_days.bands[{i}]"
                names.append(band.name)
                paths.append(path)
                rates.append((check.lines(band.lines, f"{path}.lines"), check.amount(band.cap, f"{path}.cap")))
        else:
            special = ((0, first),)
            names.append(SPECIAL_DAY)
            paths.append("special_days")
            rates.append((check.lines(sd.lines or [], "special_days.lines"), check.amount(sd.cap, "special_days.cap")))
    for i, name in enumerate(names):
        if name in names[:i]:
            check.add(f"{paths[i]}.name", f"band name {name!r} is used twice")
    return names, rates, normal, special, dates


def _class_pricing(
    check: _Checker, spec: TariffSpec, names: list[str], base: list[Rate], cycle_cap: int | None, lost_fee: int | None
) -> dict[str, ClassPricing]:
    """Each vehicle class's prices: the base rates, scaled by a multiplier, or with its own lines and caps."""
    classes: dict[str, ClassPricing] = {}
    for cname, cls in spec.classes.items():
        path = f"classes.{cname}"
        own = cls.lines is not None or cls.bands or cls.cycle_cap is not None or cls.lost_card_fee is not None
        if cls.multiplier is not None:
            if own:
                check.add(f"{path}.multiplier", "give a multiplier or the class's own prices, not both")
            factor = Fraction(Decimal(cls.multiplier.strip()))
            if factor <= 0:
                check.add(f"{path}.multiplier", f"the multiplier must be > 0, got {cls.multiplier.strip()}")
                factor = Fraction(1)
            rates = tuple(
                (tuple((span, unit, _scaled(price, factor) or 0) for span, unit, price in lines), _scaled(cap, factor))
                for lines, cap in base
            )
            classes[cname] = ClassPricing(rates, _scaled(cycle_cap, factor), _scaled(lost_fee, factor))
            continue
        class_rates = list(base)
        if cls.lines is not None:
            if spec.lines is None:
                check.add(f"{path}.lines", "this tariff has bands: give the class's prices under bands.<name>")
            else:
                class_rates[0] = (check.lines(cls.lines, f"{path}.lines"), None)
        for bname, override in cls.bands.items():
            if bname not in names:
                check.add(f"{path}.bands.{bname}", f"unknown band {bname!r}; bands: {', '.join(names)}")
                continue
            index = names.index(bname)
            lines, cap = class_rates[index]
            if override.lines is not None:
                lines = check.lines(override.lines, f"{path}.bands.{bname}.lines")
            if override.cap is not None:
                cap = check.amount(override.cap, f"{path}.bands.{bname}.cap")
            class_rates[index] = (lines, cap)
        own_cycle_cap = cycle_cap if cls.cycle_cap is None else check.amount(cls.cycle_cap, f"{path}.cycle_cap")
        if cls.cycle_cap is not None and spec.cycle is None:
            check.add(f"{path}.cycle_cap", "this tariff has no [cycle] to cap")
        own_fee = lost_fee if cls.lost_card_fee is None else check.amount(cls.lost_card_fee, f"{path}.lost_card_fee")
        if cls.lost_card_fee is not None and spec.lost_card is None:
            check.add(f"{path}.lost_card_fee", "this tariff has no [lost_card] section")
        classes[cname] = ClassPricing(tuple(class_rates), own_cycle_cap, own_fee)
    if spec.default_class not in spec.classes:
        check.add("default_class", f"unknown vehicle class {spec.default_class!r}; classes: {', '.join(spec.classes)}")
    return classes


def compile_tariff(spec: TariffSpec, *, content_hash: str, source: str) -> Tariff:
    """Cross-check a shape-valid tariff and compile it; raise :class:`TariffFileError` with every problem."""
    check = _Checker(spec.currency)
    if not is_currency(spec.currency):
        check.add("currency", f"unknown currency {spec.currency!r} (use an ISO 4217 code such as CNY)")
    clock = None
    try:
        clock = wall_clock(spec.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        check.add("timezone", f"unknown time zone {spec.timezone!r} (use an IANA name such as Asia/Shanghai)")
    names, base_rates, normal, special, special_dates = _geometry(check, spec)
    cycle_reset = 0
    cycle_cap = None
    if spec.cycle is not None:
        cycle_cap = check.amount(spec.cycle.cap, "cycle.cap")
        if spec.cycle.resets_at is not None:
            if spec.cycle.kind != "calendar_day":
                check.add("cycle.resets_at", "only a calendar_day cycle resets at a time of day")
            elif spec.cycle.resets_at == "24:00":
                check.add("cycle.resets_at", "write 00:00 for midnight")
            else:
                cycle_reset = _minutes(spec.cycle.resets_at) * 60
    lost_fee = check.amount(spec.lost_card.fee, "lost_card.fee") if spec.lost_card else None
    classes = _class_pricing(check, spec, names, base_rates, cycle_cap, lost_fee)
    if check.problems or clock is None:
        raise TariffFileError(source, check.problems)
    return Tariff(
        id=spec.id,
        name=spec.name,
        currency=spec.currency,
        timezone=spec.timezone,
        content_hash=content_hash,
        source=source,
        spec=spec,
        free_seconds=spec.free_minutes * 60,
        free_deducted=spec.free_minutes_deducted,
        grace_seconds=spec.grace_minutes * 60,
        max_stay=timedelta(days=spec.max_session_days) if spec.max_session_days else None,
        max_stay_seconds=spec.max_session_days * 86_400 if spec.max_session_days else None,
        cycle_kind=spec.cycle.kind if spec.cycle else None,
        cycle_reset=cycle_reset,
        band_names=tuple(names),
        normal_day=normal,
        special_day=special,
        special_dates=special_dates,
        special_list=tuple(sorted(special_dates)),
        classes=MappingProxyType(classes),
        default_class=spec.default_class,
        lost_card_computed_if_more=spec.lost_card.computed_if_more if spec.lost_card else True,
        clock=clock,
    )
