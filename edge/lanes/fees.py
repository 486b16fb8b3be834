"""The fee a temporary vehicle owes at exit, behind a small protocol so lanes stay pure and testable.

:class:`TariffFees` adapts the tariff engine (:mod:`parking.tariff`): tariffs are loaded once from the site's
files and quoted in memory, so a quote never touches the disk at a lane. Versions central published
(:meth:`TariffFees.use_published`) take over from the site file's tariff of the same ``id``: a stay is quoted with
the version in effect at its **entry** (the price posted when the vehicle came in, and the same version at a pay
station and at the exit); a lost card without a known entry uses the version in effect at the exit. Before the
first published version takes effect the site file's tariff quotes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from parking.tariff import Coupon, Tariff, TariffError, load_tariff, parse_tariff, quote
from parking.wire import TariffRecord

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FeeQuote:
    """What is due: integer minor units, the breakdown lines as JSON, and which tariff (id and hash) said so."""

    total: int
    currency: str
    tariff_id: str
    tariff_hash: str
    lines: list[dict[str, Any]] = field(default_factory=list)
    flags: tuple[str, ...] = ()
    quoted_at: datetime | None = None  # the exit time the fee was computed for (central re-checks with it)
    coupons: tuple[Coupon, ...] = ()  # validations entered at the exit, re-checked by central with the fee

    def waived(self) -> FeeQuote:
        """The same quote with nothing to pay (a free or special vehicle, a manual open): the lines stay as evidence."""
        return FeeQuote(0, self.currency, self.tariff_id, self.tariff_hash, self.lines, self.flags,
                        coupons=self.coupons)  # fmt: skip

    def to_payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "amount": self.total,
            "currency": self.currency,
            "tariff_id": self.tariff_id,
            "tariff_hash": self.tariff_hash,
            "lines": self.lines,
            "flags": list(self.flags),
        }
        if self.coupons:
            payload["coupons"] = [{"minutes": c.minutes, "amount": c.amount, "code": c.code} for c in self.coupons]
        if self.quoted_at is not None:
            payload["quoted_at"] = self.quoted_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
        return payload


class FeeQuoter(Protocol):
    def quote(
        self, tariff: str, entry: datetime | None, exit: datetime, vehicle_class: str, *, lost_card: bool = False,
        paid: int = 0, paid_at: datetime | None = None, coupons: Sequence[Coupon] = (),
    ) -> FeeQuote:  # fmt: skip
        """What is due leaving at ``exit``; ``entry`` is None only for a lost card without a known entry; ``paid``
        at ``paid_at`` (a pay station) counts, and nothing is due within the tariff's grace after it; ``coupons``
        (validations) give free time or an amount off."""
        ...

    def max_stay(self, tariff: str) -> timedelta | None: ...


@dataclass(frozen=True, slots=True)
class PublishedTariff:
    """A version of a tariff central published, compiled, and the time from which it quotes."""

    version: str
    effective_from: datetime
    tariff: Tariff


class TariffFees:
    """Quotes with :mod:`parking.tariff` for the tariffs named in the site file (loaded once, quoted in memory),
    or with the version central published that is in effect (see the module's docstring)."""

    def __init__(self, files: dict[str, Path]) -> None:
        self.tariffs: dict[str, Tariff] = {}
        self.texts: dict[str, str] = {}  # content hash -> the file's text, sent to central once (tariff_version)
        self.published: dict[str, tuple[PublishedTariff, ...]] = {}  # tariff id -> versions, by effective_from
        for name, path in files.items():
            raw = Path(path).read_bytes() if Path(path).is_file() else None
            tariff = parse_tariff(raw, source=str(path)) if raw is not None else load_tariff(path)
            self.tariffs[name] = tariff
            if raw is not None:
                try:
                    self.texts[tariff.content_hash] = raw.decode("utf-8")
                except UnicodeDecodeError:  # parse_tariff refuses non-UTF-8 already; kept for the type checker
                    _LOGGER.warning("tariff %s is not UTF-8 text: not archived", path)

    def _usable(self, record: TariffRecord) -> PublishedTariff | None:
        """The record compiled, if it is a version of one of the site's tariffs, in the same currency and zone."""
        if record.effective_from is None:  # published before tariffs had versions: never quoted
            return None
        site = {t.id: t for t in self.tariffs.values()}.get(record.tariff_id)
        if site is None:
            return None
        try:
            tariff = parse_tariff(record.content, source=f"central tariff {record.id}")
        except TariffError as err:  # central validates before publishing: only a tampered page gets here
            _LOGGER.warning("published tariff %s refused: %s", record.id, err)
            return None
        if tariff.id != site.id or (tariff.currency, tariff.timezone) != (site.currency, site.timezone):
            _LOGGER.warning("published tariff %s refused: not %s in %s, %s", record.id, site.id, site.currency,
                            site.timezone)  # fmt: skip
            return None
        return PublishedTariff(record.id, record.effective_from, tariff)

    def use_published(self, records: Iterable[TariffRecord]) -> None:
        """Quote with these published versions (every one central lists; the lists store keeps them)."""
        published: dict[str, list[PublishedTariff]] = {}
        for record in records:
            if (usable := self._usable(record)) is not None:
                published.setdefault(usable.tariff.id, []).append(usable)
                self.texts.setdefault(usable.tariff.content_hash, record.content)
        self.published = {k: tuple(sorted(v, key=lambda p: p.effective_from)) for k, v in published.items()}

    def in_effect(self, tariff: str, at: datetime) -> Tariff:
        """The version of the site's tariff ``tariff`` in effect at ``at``: the latest published version that took
        effect by then, else the site file's."""
        chosen = self.tariffs[tariff]
        for version in self.published.get(chosen.id, ()):
            if version.effective_from > at:
                break
            chosen = version.tariff
        return chosen

    def quote(
        self, tariff: str, entry: datetime | None, exit: datetime, vehicle_class: str, *, lost_card: bool = False,
        paid: int = 0, paid_at: datetime | None = None, coupons: Sequence[Coupon] = (),
    ) -> FeeQuote:  # fmt: skip
        compiled = self.in_effect(tariff, entry or exit)
        # A class the tariff does not price (e.g. new_energy where all pay alike) pays the default class.
        cls = vehicle_class if vehicle_class in compiled.classes else compiled.default_class
        result = quote(compiled, entry, exit, cls, lost_card=lost_card, paid=paid, paid_at=paid_at, coupons=coupons)
        return FeeQuote(
            total=result.total, currency=result.currency, tariff_id=result.tariff_id, tariff_hash=result.tariff_hash,
            lines=list(result.to_json()["lines"]), flags=tuple(result.flags), quoted_at=exit, coupons=tuple(coupons),
        )  # fmt: skip

    def max_stay(self, tariff: str) -> timedelta | None:
        return self.tariffs[tariff].max_stay
