"""The exit lane with the real tariff engine and the residential tariff file."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from edge.lanes.actions import Commit, Display
from edge.lanes.events import LostCard, TakePayment
from edge.lanes.exit import ExitLane
from edge.lanes.fees import TariffFees
from edge.lanes.lane import LaneContext, LaneSettings
from edge.lanes.payments import PaymentRefusedError, prepay
from edge.store.journal import Journal
from parking.tariff import load_tariff
from parking.wire import RecordKind, TariffRecord
from tests.edge.kit import CAR_PARK, Clock, arrive, context, cross, drafts, entry_lane, feed, of_type, opens

RESIDENTIAL = Path(__file__).resolve().parents[3] / "config" / "tariffs" / "residential.toml"


def real_exit(ctx: LaneContext) -> ExitLane:
    settings = LaneSettings(id="out-1", car_park=CAR_PARK, tariff="residential")
    return ExitLane(settings, ctx, TariffFees({"residential": RESIDENTIAL}))


def test_fee_breakdown_and_tariff_hash_are_committed_with_the_payment() -> None:
    ctx, clock = context(), Clock()
    feed(entry_lane(ctx), clock, *arrive("粤B12345"), *cross())
    clock.advance(timedelta(hours=3, minutes=10).total_seconds())
    lane = real_exit(ctx)
    actions = feed(lane, clock, *arrive("粤B12345"))
    assert "请缴费 11.00元" in of_type(actions, Display)[0].lines
    actions = feed(lane, clock, TakePayment(operator="c-7", reason="cash", amount=1100))
    (tx,) = drafts(actions, RecordKind.TRANSACTION)
    assert tx.payload["amount"] == 1100
    assert tx.payload["tariff_hash"] == load_tariff(RESIDENTIAL).content_hash
    assert sum(line["amount"] for line in tx.payload["lines"]) == 1100
    assert len(opens(actions)) == 1


def test_lost_card_without_entry_pays_the_flat_fee_and_large_class_pays_double() -> None:
    ctx, clock = context(), Clock()
    lane = real_exit(ctx)
    feed(lane, clock, *arrive("粤A99999"))
    actions = feed(lane, clock, LostCard(operator="c-7", reason="no ticket, no record"))
    assert "请缴费 50.00元" in of_type(actions, Display)[0].lines

    fees = TariffFees({"residential": RESIDENTIAL})
    start = clock.now
    small = fees.quote("residential", start, start + timedelta(hours=2), "small").total
    large = fees.quote("residential", start, start + timedelta(hours=2), "large").total
    assert large == 2 * small
    assert fees.quote("residential", start, start + timedelta(hours=2), "new_energy").total == small


def test_a_stay_beyond_the_tariff_maximum_is_abnormal() -> None:
    ctx, clock = context(), Clock()
    feed(entry_lane(ctx), clock, *arrive("粤B12345"), *cross())
    clock.advance(timedelta(days=31).total_seconds())
    actions = feed(real_exit(ctx), clock, *arrive("粤B12345"))
    assert drafts(actions, RecordKind.ABNORMAL_EVENT)[0].payload["event"] == "session_over_max"


def test_paid_at_a_pay_station_leaves_by_itself_within_grace_and_pays_the_rest_later(tmp_path: Path) -> None:
    fees = TariffFees({"residential": RESIDENTIAL})
    ctx, clock = context(), Clock()
    journal = Journal(tmp_path / "j.sqlite3", CAR_PARK)
    for action in feed(entry_lane(ctx), clock, *arrive("粤B12345"), *cross(), *arrive("粤B54321"), *cross()):
        if isinstance(action, Commit):
            journal.commit(action.drafts)
    clock.advance(timedelta(hours=3, minutes=10).total_seconds())
    first, second = list(ctx.park.sessions)
    with pytest.raises(PaymentRefusedError, match=r"11\.00 is due"):
        prepay(ctx.park, fees, "residential", first, 500, clock.now, method="qr", station="pay-1")
    paid = prepay(ctx.park, fees, "residential", first, 1100, clock.now, method="qr", station="pay-1")
    journal.commit(paid.drafts)
    paid = prepay(ctx.park, fees, "residential", second, 1100, clock.now, method="cash", station="pay-1")
    journal.commit(paid.drafts)

    # A restart keeps what was paid.
    (recovered,) = [s for s in journal.open_sessions() if s.id == first]
    assert recovered.paid == 1100

    clock.advance(10 * 60)  # within the 15 grace minutes: nothing due, the unattended exit opens
    lane = ExitLane(LaneSettings(id="out-1", car_park=CAR_PARK, tariff="residential", attended=False), ctx, fees)
    actions = feed(lane, clock, *arrive("粤B12345"))
    assert drafts(actions, RecordKind.TRANSACTION)[0].payload["transaction_kind"] == "nothing_due"
    assert len(opens(actions)) == 1
    feed(lane, clock, *cross())

    clock.advance(60 * 60)  # an hour later: the hour started since is due
    actions = feed(lane, clock, *arrive("粤B54321"))
    assert opens(actions) == []
    assert "请缴费 2.00元" in of_type(actions, Display)[0].lines  # 5 started hours (13.00) less 11.00 paid


def published(content: str, number: int, effective: datetime | None, tariff_id: str = "residential") -> TariffRecord:
    digest = hashlib.sha256(content.encode("utf-8")).hexdigest()
    return TariffRecord(id=f"{tariff_id}@{number}", content=content, sha256=digest, tariff_id=tariff_id,
                        effective_from=effective)  # fmt: skip


def test_the_version_in_effect_at_entry_quotes_and_the_site_file_is_the_fallback() -> None:
    text = RESIDENTIAL.read_text()
    dearer = text.replace('price = "5.00"', 'price = "8.00"')
    dearest = text.replace('price = "5.00"', 'price = "9.00"')
    fees = TariffFees({"residential": RESIDENTIAL})
    site = fees.tariffs["residential"].content_hash
    noon = datetime(2026, 12, 1, 4, 0, tzinfo=UTC)
    fees.use_published([
        published(dearest, 2, noon + timedelta(days=1)), published(dearer, 1, noon),
        published(text.replace('currency = "CNY"', 'currency = "EUR"'), 3, noon),  # not the car park's currency
        published(dearer, 4, None),  # published before versions: never quotes
        published(dearer.replace('id = "residential"', 'id = "other"'), 1, noon, "other"),  # no such site tariff
    ])  # fmt: skip
    assert [p.version for p in fees.published["residential"]] == ["residential@1", "residential@2"]
    before = fees.quote("residential", noon - timedelta(hours=2), noon + timedelta(hours=1), "small")
    assert (before.total, before.tariff_hash) == (900, site)  # entered before (3 h): 5.00 + 2 × 2.00, the site file
    after = fees.quote("residential", noon + timedelta(minutes=1), noon + timedelta(hours=1), "small")
    assert (after.total, after.tariff_hash) == (800, hashlib.sha256(dearer.encode()).hexdigest())
    lost = fees.quote("residential", None, noon + timedelta(days=2), "small", lost_card=True)
    assert lost.tariff_hash == hashlib.sha256(dearest.encode()).hexdigest()  # no entry: the exit time decides
    assert set(fees.texts) == {site, after.tariff_hash, lost.tariff_hash}  # each text, for the journal
