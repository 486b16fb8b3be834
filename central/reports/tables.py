"""What a report is made of: tables of typed columns (shown on the page, exported as CSV and XLSX the same way),
the period it covers, and the chart series drawn from it."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from typing import Any


def N_(message: str) -> str:  # noqa: N802 (the gettext convention for a message translated later)
    """Marks ``message`` for the office catalogues; the page or the export translates it."""
    return message


class ColumnType(StrEnum):
    TEXT = "text"
    COUNT = "count"
    MONEY = "money"  # integer minor units of the report's currency
    DATE = "date"
    DATETIME = "datetime"  # aware; shown and exported in the car park's zone
    MINUTES = "minutes"


@dataclass(frozen=True, eq=False)
class Column:
    key: str
    label: str  # a msgid
    type: ColumnType = ColumnType.TEXT
    labels: dict[str, str] | None = None  # codes shown as these msgids (translated); other values as stored


@dataclass
class Table:
    key: str
    title: str  # a msgid
    columns: list[Column]
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    note: str = ""  # a msgid shown under the table
    limited: bool = False  # more rows exist than are shown

    def column(self, key: str) -> list[Any]:
        index = [c.key for c in self.columns].index(key)
        return [row[index] for row in self.rows]

    def total(self, key: str) -> int:
        return sum(int(v or 0) for v in self.column(key))


@dataclass
class Series:
    """Points for a chart: labels along the x axis, one or more named lines or bars."""

    labels: list[str]
    values: dict[str, list[float]]
    money: bool = False


@dataclass
class Report:
    key: str
    title: str  # a msgid
    period: Period
    car_park: str
    currency: str
    zone: tzinfo
    tables: list[Table]
    charts: dict[str, Series] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # msgids shown above the tables

    def table(self, key: str) -> Table | None:
        return next((t for t in self.tables if t.key == key), None)


_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


class PeriodError(ValueError):
    """The period asked for is not a month (YYYY-MM) or a day (YYYY-MM-DD)."""


@dataclass(frozen=True)
class Period:
    """A local day or a local month (first and last day, both included)."""

    first: date
    last: date
    grain: str  # "day" or "month"

    @classmethod
    def parse(cls, month: str, day: str, today: date) -> Period:
        """The day when one is given, else the month, else this month; :class:`PeriodError` when malformed."""
        if day:
            found = _DAY.match(day)
            try:
                if found is None:
                    raise ValueError
                one = date(int(found[1]), int(found[2]), int(found[3]))
            except ValueError:
                raise PeriodError(N_("Enter a day as YYYY-MM-DD.")) from None
            return cls(one, one, "day")
        if month:
            found = _MONTH.match(month)
            if found is None or not 1 <= int(found[2]) <= 12 or int(found[1]) < 1:
                raise PeriodError(N_("Enter a month as YYYY-MM."))
            year, number = int(found[1]), int(found[2])
        else:
            year, number = today.year, today.month
        return cls(date(year, number, 1), date(year, number, calendar.monthrange(year, number)[1]), "month")

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]

    def bounds(self, zone: tzinfo) -> tuple[datetime, datetime]:
        """The period's start and end (exclusive) in UTC, for the zone it is lived in."""
        start = datetime.combine(self.first, time(), zone).astimezone(UTC)
        return start, datetime.combine(self.last + timedelta(days=1), time(), zone).astimezone(UTC)

    @property
    def label(self) -> str:
        return self.first.isoformat() if self.grain == "day" else self.first.strftime("%Y-%m")

    def query(self) -> dict[str, str]:
        return {"day": self.label} if self.grain == "day" else {"month": self.label}
