"""Publishing list records to the edges: each change takes the next version of the sync clock and stores the
record's wire JSON in ``sync_items``, so a sync page is built by joining stored text.

The clock is one row updated with ``version = version + n``: the row lock is held until the writer commits, so
versions become visible in the order they were handed out and an edge that saw version ``v`` has missed nothing
at or below ``v``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from central.core.db import utcnow
from central.models import (
    AccessCard,
    AccessGroup,
    Holder,
    MonthlyPass,
    PassHold,
    PassPlan,
    SyncClock,
    SyncItem,
    TariffRelease,
    Unit,
    VehicleListEntry,
)
from parking.wire import (
    CardRecord,
    CardStatus,
    ListKind,
    PassRecord,
    PassStatus,
    TariffRecord,
    VehicleEntry,
    VehicleList,
)


def advance_clock(session: Session, count: int = 1) -> int:
    """Take ``count`` new versions; answers the last one (the first is ``last - count + 1``)."""
    version = session.execute(
        update(SyncClock)
        .where(SyncClock.id == 1)
        .values(version=SyncClock.version + count)
        .returning(SyncClock.version)
    ).scalar_one()
    return int(version)


def current_version(session: Session) -> tuple[int, int]:
    """The clock's (version, purged_through)."""
    row = session.execute(select(SyncClock.version, SyncClock.purged_through).where(SyncClock.id == 1)).one()
    return int(row[0]), int(row[1])


def scope_text(car_parks: Iterable[str]) -> str:
    """``",a,b,"`` for a set of car parks, ``""`` for every car park (so ``LIKE '%,a,%'`` finds a member)."""
    ids = sorted(set(car_parks))
    return f",{','.join(ids)}," if ids else ""


def _union(reach: str, scope: str) -> str:
    if reach == "" or scope == "":
        return ""
    return scope_text([*reach.strip(",").split(","), *scope.strip(",").split(",")])


def publish(session: Session, kind: ListKind, record_id: str, body: str, car_parks: Sequence[str]) -> int:
    """Store the record's wire JSON under a new version; answers the version."""
    version = advance_clock(session)
    scope = scope_text(car_parks)
    item = session.get(SyncItem, (kind.value, record_id))
    if item is None:
        session.add(
            SyncItem(kind=kind.value, record_id=record_id, version=version, scope=scope, reach=scope, body=body)
        )
    else:
        item.version = version
        item.reach = _union(item.reach, scope)  # an edge that had it must hear it left, even after a deletion
        item.scope = scope
        item.body = body
        item.deleted = False
        item.changed_at = utcnow()
    session.flush()
    return version


def retract(session: Session, kind: ListKind, record_id: str) -> None:
    """Turn the record into a tombstone: edges that had it delete it at their next sync."""
    item = session.get(SyncItem, (kind.value, record_id))
    if item is None or item.deleted:
        return
    item.version = advance_clock(session)
    item.deleted = True
    item.body = ""
    item.changed_at = utcnow()
    session.flush()


def publish_new(session: Session, kind: ListKind, records: Sequence[tuple[str, str, Sequence[str]]]) -> int:
    """Publish many new records (``(id, body, car_parks)``) in one statement: bulk imports and set-up."""
    if not records:
        return current_version(session)[0]
    last = advance_clock(session, len(records))
    first = last - len(records) + 1
    now = utcnow()
    rows = []
    for offset, (record_id, body, car_parks) in enumerate(records):
        scope = scope_text(car_parks)
        rows.append(
            {"kind": kind.value, "record_id": record_id, "version": first + offset, "scope": scope, "reach": scope,
             "body": body, "deleted": False, "changed_at": now}
        )  # fmt: skip
    session.execute(insert(SyncItem), rows)
    return last


def purge_tombstones(session: Session, older_than: timedelta) -> int:
    """Forget deletions older than ``older_than``; edges behind them get a full snapshot. Answers how many."""
    cutoff = utcnow() - older_than
    newest = session.execute(
        select(SyncItem.version).where(SyncItem.deleted.is_(True), SyncItem.changed_at < cutoff)
        .order_by(SyncItem.version.desc()).limit(1)
    ).scalar_one_or_none()  # fmt: skip
    if newest is None:
        return 0
    purged = session.execute(delete(SyncItem).where(SyncItem.deleted.is_(True), SyncItem.version <= newest))
    session.execute(
        update(SyncClock).where(SyncClock.id == 1, SyncClock.purged_through < newest).values(purged_through=newest)
    )
    return int(getattr(purged, "rowcount", 0) or 0)


# ---------------------------------------------------------------------------------------------- wire records


def unit_label(unit: Unit | None) -> str | None:
    return f"{unit.building}-{unit.room}" if unit is not None else None


def pass_record(
    monthly: MonthlyPass, holder: Holder, unit: Unit | None, plan: PassPlan, hold: str | None = None
) -> PassRecord:
    """The pass as the edges get it; ``hold``: why billing holds it suspended (the lane tells the holder)."""
    status = PassStatus(monthly.status)
    return PassRecord(
        id=monthly.id, holder=holder.name, unit=unit_label(unit), plates=list(monthly.plates),
        card=monthly.card_number, vehicle_class=plan.vehicle_class, car_parks=list(plan.car_parks),
        valid_from=monthly.valid_from, valid_to=monthly.valid_to, status=status,
        status_reason=hold if status is PassStatus.SUSPENDED else None,
    )  # fmt: skip


def publish_pass(session: Session, monthly: MonthlyPass) -> int:
    holder = session.get_one(Holder, monthly.holder_id)
    unit = session.get(Unit, holder.unit_id) if holder.unit_id is not None else None
    plan = session.get_one(PassPlan, monthly.plan_id)
    hold = session.scalar(select(PassHold.reason).where(PassHold.pass_id == monthly.id))
    record = pass_record(monthly, holder, unit, plan, hold)
    # Without a reason the field is left out: the record stays the one older edges (extra fields forbidden) read.
    body = record.model_dump_json(exclude={"status_reason"} if record.status_reason is None else None)
    return publish(session, ListKind.PASSES, monthly.id, body, record.car_parks)


def card_record(card: AccessCard, holder: Holder, unit: Unit | None, groups: Sequence[AccessGroup]) -> CardRecord:
    every_lane = not groups or any(not g.lanes for g in groups)
    every_park = not groups or any(not g.car_parks for g in groups)
    return CardRecord(
        id=card.id, number=card.number, holder=holder.name, unit=unit_label(unit),
        lanes=[] if every_lane else sorted({lane for g in groups for lane in g.lanes}),
        car_parks=[] if every_park else sorted({p for g in groups for p in g.car_parks}),
        valid_from=card.valid_from, valid_to=card.valid_to, status=CardStatus(card.status),
    )  # fmt: skip


def publish_card(session: Session, card: AccessCard) -> int:
    holder = session.get_one(Holder, card.holder_id)
    unit = session.get(Unit, holder.unit_id) if holder.unit_id is not None else None
    groups = list(session.scalars(select(AccessGroup).where(AccessGroup.id.in_(card.groups)))) if card.groups else []
    record = card_record(card, holder, unit, groups)
    return publish(session, ListKind.CARDS, card.id, record.model_dump_json(), record.car_parks)


def publish_vehicle(session: Session, entry: VehicleListEntry) -> int:
    record = VehicleEntry(
        id=entry.id, list_kind=VehicleList(entry.list_kind), plate=entry.plate, category=entry.category,
        reason=entry.reason, car_parks=list(entry.car_parks), valid_from=entry.valid_from, valid_to=entry.valid_to,
    )  # fmt: skip
    return publish(session, ListKind.VEHICLES, entry.id, record.model_dump_json(), record.car_parks)


def publish_tariff(session: Session, release: TariffRelease) -> int:
    record = TariffRecord(id=release.id, content=release.content, sha256=release.sha256, tariff_id=release.tariff_id,
                          effective_from=release.effective_from)  # fmt: skip
    return publish(session, ListKind.TARIFFS, release.id, record.model_dump_json(), list(release.car_parks))


def republish_holder(session: Session, holder_id: int) -> None:
    """A holder's name or unit is on their passes and cards: publish them again."""
    for monthly in session.scalars(select(MonthlyPass).where(MonthlyPass.holder_id == holder_id)):
        publish_pass(session, monthly)
    for card in session.scalars(select(AccessCard).where(AccessCard.holder_id == holder_id)):
        publish_card(session, card)
