"""The shape of a tariff file (TOML), checked by pydantic with unknown keys refused.

These models only say what may be written where. What crosses keys (bands covering the day without gaps or
overlaps, amounts exact in the currency, one pricing per class) is checked by :mod:`parking.tariff.compile`, which
also turns the models into the plain tuples the engine runs on.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

IDENTIFIER = r"^[a-z0-9][a-z0-9_-]{0,63}$"
Identifier = Annotated[str, Field(pattern=IDENTIFIER)]


def _amount_text(value: Any) -> Any:
    if isinstance(value, float):
        raise ValueError(f'write amounts as decimal text such as "5.00", got the number {value!r}')
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError(f'write amounts as decimal text such as "5.00" (is {value} yuan or fen?)')
    return value


# Decimal text in major units ("5.00"); the sign is allowed here so a negative price gets its own clear message.
Amount = Annotated[str, BeforeValidator(_amount_text), Field(pattern=r"^\s*-?\d+(\.\d+)?\s*$")]
# A local wall-clock time "HH:MM"; "24:00" is accepted as the end of the day.
TimeOfDay = Annotated[str, Field(pattern=r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$")]


def _multiplier_text(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError('a multiplier is a number such as 2 or "1.5"')
    if isinstance(value, int | float):
        return str(value)
    return value


Multiplier = Annotated[str, BeforeValidator(_multiplier_text), Field(pattern=r"^\s*-?\d+(\.\d+)?\s*$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class LineSpec(Strict):
    """One line of the rate: ``price`` per started ``unit_minutes``, for ``units`` units (the last line repeats)."""

    unit_minutes: int = Field(gt=0, le=366 * 1440)
    price: Amount
    units: int | None = Field(default=None, gt=0, le=1_000_000)


class BandSpec(Strict):
    """A time-of-day band: local wall-clock ``from`` to ``to`` (wrapping past midnight when ``to`` <= ``from``)."""

    name: Identifier
    start: TimeOfDay = Field(alias="from")
    end: TimeOfDay = Field(alias="to")
    lines: list[LineSpec] = Field(min_length=1)
    cap: Amount | None = None


class CycleSpec(Strict):
    """Caps reset and lines restart each cycle: a rolling 24 h from entry, or a local day starting at ``resets_at``."""

    kind: Literal["rolling_24h", "calendar_day"]
    resets_at: TimeOfDay | None = None
    cap: Amount | None = None


class SpecialDaysSpec(Strict):
    """Listed local dates (public holidays...) whose hours are priced by their own band set."""

    dates: list[date] = Field(min_length=1)
    lines: list[LineSpec] | None = Field(default=None, min_length=1)
    cap: Amount | None = None
    bands: list[BandSpec] | None = Field(default=None, min_length=1)


class BandPriceSpec(Strict):
    """A vehicle class's own prices for one band."""

    lines: list[LineSpec] | None = Field(default=None, min_length=1)
    cap: Amount | None = None


class VehicleClassSpec(Strict):
    """A vehicle class: the default prices, every price times ``multiplier``, or its own lines and caps."""

    multiplier: Multiplier | None = None
    lines: list[LineSpec] | None = Field(default=None, min_length=1)
    cycle_cap: Amount | None = None
    bands: dict[Identifier, BandPriceSpec] = {}
    lost_card_fee: Amount | None = None


class LostCardSpec(Strict):
    """The fee for a lost temporary card: flat, or the computed fee when the recorded entry gives more."""

    fee: Amount
    computed_if_more: bool = True


class TariffSpec(Strict):
    """A whole tariff file."""

    id: Identifier
    name: str = ""
    currency: str
    timezone: str
    free_minutes: int = Field(default=0, ge=0, le=7 * 1440)
    free_minutes_deducted: bool = False
    grace_minutes: int = Field(default=0, ge=0, le=1440)
    max_session_days: int | None = Field(default=None, gt=0, le=3660)
    cycle: CycleSpec | None = None
    lines: list[LineSpec] | None = Field(default=None, min_length=1)
    bands: list[BandSpec] | None = Field(default=None, min_length=1)
    special_days: SpecialDaysSpec | None = None
    classes: dict[Identifier, VehicleClassSpec] = Field(default_factory=lambda: {"small": VehicleClassSpec()})
    default_class: Identifier = "small"
    lost_card: LostCardSpec | None = None
