"""The tariff engine: explainable temporary-parking fees, identical at the edge (which charges) and at central.

>>> tariff = load_tariff("config/tariffs/residential.toml")  # doctest: +SKIP
>>> quote(tariff, entry, exit, "small").total  # doctest: +SKIP
1100

Pure computation: no I/O beyond reading the tariff file it is asked to load.
"""

from parking.tariff.breakdown import Coupon, Quote, QuoteLine
from parking.tariff.compile import ClassPricing, Tariff, load_tariff, parse_tariff
from parking.tariff.engine import quote
from parking.tariff.errors import (
    CouponError,
    ExitBeforeEntryError,
    LostCardError,
    NaiveDatetimeError,
    StayError,
    TariffError,
    TariffFileError,
    TariffProblem,
    UnknownVehicleClassError,
)

__all__ = [
    "ClassPricing",
    "Coupon",
    "CouponError",
    "ExitBeforeEntryError",
    "LostCardError",
    "NaiveDatetimeError",
    "Quote",
    "QuoteLine",
    "StayError",
    "Tariff",
    "TariffError",
    "TariffFileError",
    "TariffProblem",
    "UnknownVehicleClassError",
    "load_tariff",
    "parse_tariff",
    "quote",
]
