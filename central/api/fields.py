"""Field types the API's request models share: bounded so nothing a client sends can overflow the database."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Path, Query
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from parking.money import is_currency
from parking.plates import normalise_plate

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def _in_service_range(value: datetime) -> datetime:
    if not EARLIEST <= value < LATEST:
        raise ValueError("time must be between 2000-01-01 and 2200-01-01")
    return value.astimezone(UTC)


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("text must not contain NUL characters")
    return value


PLATE_MAX = 16  # the plate columns' width


def _plate(value: str) -> str:
    """A plate as typed: printable, and no wider than the plate columns once normalised (full-width forms and
    compatibility characters such as "½" grow under NFKC)."""
    _no_nul(value)
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in value):
        raise ValueError("a plate must not contain control or unassigned characters")
    if len(normalise_plate(value)) > PLATE_MAX:
        raise ValueError(f"the plate is longer than {PLATE_MAX} characters once normalised")
    return value


def _currency(value: str) -> str:
    if not is_currency(value):
        raise ValueError("not an ISO 4217 currency code (e.g. CNY)")
    return value


When = Annotated[AwareDatetime, AfterValidator(_in_service_range)]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128), AfterValidator(_no_nul)]
Text = Annotated[str, StringConstraints(max_length=2000), AfterValidator(_no_nul)]
ShortText = Annotated[str, StringConstraints(max_length=32), AfterValidator(_no_nul)]
PlateText = Annotated[
    str, StringConstraints(strip_whitespace=True, to_upper=True, min_length=1, max_length=16), AfterValidator(_plate)
]
CardNumber = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64), AfterValidator(_no_nul)
]
Currency = Annotated[str, AfterValidator(_currency)]
MinorUnits = Annotated[int, Field(ge=0, le=10**12, description="integer minor units (fen, cents)")]
Months = Annotated[int, Field(ge=1, le=120)]
RowId = Annotated[int, Path(ge=1, le=2_147_483_647)]
RecordKey = Annotated[str, Path(min_length=1, max_length=64)]
SlugKey = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]


class RequestModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ResponseModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)
