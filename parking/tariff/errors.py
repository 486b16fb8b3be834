"""The tariff engine's errors: one root, :class:`TariffError` (a ``ValueError``), one subclass per kind of mistake."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TariffProblem:
    """One thing wrong with a tariff file, at a key path such as ``bands[1].lines[0].price``."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class TariffError(ValueError):
    """Root of every error the tariff engine raises."""


class TariffFileError(TariffError):
    """A tariff file that cannot be used; ``problems`` lists every reason with its key path."""

    def __init__(self, source: str, problems: Sequence[TariffProblem]) -> None:
        self.source = source
        self.problems = list(problems)
        super().__init__(f"{source}: " + "; ".join(str(p) for p in self.problems))


class StayError(TariffError):
    """Entry, exit or payment times that do not describe a stay."""


class NaiveDatetimeError(StayError):
    """A datetime without a time zone: the engine cannot know which instant it means."""


class ExitBeforeEntryError(StayError):
    """The exit time lies before the entry time."""


class UnknownVehicleClassError(TariffError):
    """The tariff has no prices for the vehicle class asked for."""


class LostCardError(TariffError):
    """A lost-card quote the tariff cannot give (it has no lost-card fee, or the entry is unknown without one)."""


class CouponError(TariffError):
    """A coupon with a negative or malformed value."""
