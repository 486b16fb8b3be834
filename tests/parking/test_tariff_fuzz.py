"""The tariff loader fuzzed with structured TOML mutations of the example tariffs (issue 18).

Every input is valid TOML (the mutations work on the parsed document), so every refusal must be the loader's own
:class:`TariffFileError` with each problem at a key path of the document; anything else is a crash. A tariff that
loads must quote stays (every class, with and without a lost card) without any error but the engine's own.
"""

from __future__ import annotations

import random
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from parking.tariff import TariffError, TariffFileError, parse_tariff, quote
from parking.tariff.spec import TariffSpec
from tests.fuzzing import Campaign, TomlMutator, check, check_refusal, toml_text

TARIFFS = sorted((Path(__file__).resolve().parents[2] / "config" / "tariffs").glob("*.toml"))
ROOTS = set(TariffSpec.model_fields)


def tariff_campaign(count: int, seed: int) -> Campaign:
    docs = [tomllib.loads(path.read_text(encoding="utf-8")) for path in TARIFFS]
    mutator = TomlMutator(seed, docs)
    rng = random.Random(seed)
    entry = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)

    def one(doc: dict[str, Any]) -> None:
        text = toml_text(doc)
        try:
            tariff = parse_tariff(text, "fuzz.toml")
        except TariffFileError as err:
            check_refusal(err.problems, doc, ROOTS)
            raise
        for _ in range(3):
            stay = timedelta(minutes=rng.choice([0, 1, 29, 31, 61, 1439, 1441, 3 * 1440 + 7, 40 * 1440]))
            for vehicle_class in tariff.vehicle_classes:
                for lost in (False, True):
                    try:
                        due = quote(tariff, entry, entry + stay, vehicle_class, lost_card=lost)
                    except TariffError as err:
                        check(bool(str(err)), "empty engine error")
                        continue
                    check(isinstance(due.total, int) and due.total >= 0, f"total {due.total!r}")
                    check(sum(line.amount * line.repeat for line in due.lines) == due.fee, f"lines {due.lines}")

    return Campaign("tariff loader (TOML mutations)", TariffFileError).run(mutator.many(count), one)


def test_fuzz_tariff_loader_short() -> None:
    tariff_campaign(1_500, seed=1).finish("short")


@pytest.mark.fuzz
@pytest.mark.timeout(3600)
def test_fuzz_tariff_loader_long() -> None:
    tariff_campaign(100_000, seed=2).finish("long")
