"""Importing passes in bulk (moving an operator from their old system): holders, passes and their publication in
a few statements (``COPY`` on PostgreSQL), so a hundred thousand passes load in seconds. Imported passes were paid
in the old system, so no invoice lines are made; one audit entry records the import."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, insert, select, text
from sqlalchemy.orm import Session

from central.audit import record_change
from central.core.db import utcnow
from central.models import Holder, MonthlyPass, PassPlan, SyncItem, User
from central.publication import advance_clock, scope_text
from parking.ids import new_id
from parking.wire import ListKind, PassRecord, PassStatus


@dataclass(frozen=True, slots=True)
class PassImport:
    holder: str
    phone: str
    plates: list[str]
    valid_from: datetime
    valid_to: datetime


def import_passes(session: Session, plan: PassPlan, items: Sequence[PassImport], user: User | None) -> list[str]:
    """Create a holder and a pass per item on ``plan``; answers the new pass ids. The caller commits."""
    if not items:
        return []
    now = utcnow()
    postgres = session.get_bind().dialect.name == "postgresql"
    holder_ids = _new_holder_ids(session, len(items), postgres)
    holders = [
        {"id": holder_id, "name": i.holder, "phone": i.phone, "email": "", "unit_id": None, "notes": "imported",
         "created_at": now}
        for holder_id, i in zip(holder_ids, items, strict=True)
    ]  # fmt: skip
    pass_ids = [new_id() for _ in items]
    pass_rows = [
        {"id": pass_id, "holder_id": holder_id, "plan_id": plan.id, "plates": list(item.plates), "card_number": None,
         "valid_from": item.valid_from, "valid_to": item.valid_to, "status": PassStatus.ACTIVE.value, "created_at": now}
        for pass_id, holder_id, item in zip(pass_ids, holder_ids, items, strict=True)
    ]  # fmt: skip
    last = advance_clock(session, len(items))
    first = last - len(items) + 1
    scope = scope_text(plan.car_parks)
    items_rows = []
    for offset, (pass_id, item) in enumerate(zip(pass_ids, items, strict=True)):
        record = PassRecord(id=pass_id, holder=item.holder, plates=item.plates, vehicle_class=plan.vehicle_class,
                            car_parks=plan.car_parks, valid_from=item.valid_from, valid_to=item.valid_to)  # fmt: skip
        items_rows.append(
            {"kind": ListKind.PASSES.value, "record_id": pass_id, "version": first + offset, "scope": scope,
             "reach": scope, "body": record.model_dump_json(), "deleted": False, "changed_at": now}
        )  # fmt: skip
    for table, rows in (
        (Holder.__table__, holders),
        (MonthlyPass.__table__, pass_rows),
        (SyncItem.__table__, items_rows),
    ):
        assert isinstance(table, Table)
        if postgres:
            _copy(session, table, rows)
        else:
            session.execute(insert(table), rows)
    if postgres:
        # Fresh statistics, or the planner guesses a handful of rows and sorts the whole table for each sync page.
        session.execute(text("ANALYZE holders, passes, sync_items"))
    record_change(session, user, "pass.import", "plan", plan.id, None, {"passes": len(pass_ids)})
    return pass_ids


def _new_holder_ids(session: Session, count: int, postgres: bool) -> list[int]:
    if postgres:
        query = text("SELECT nextval(pg_get_serial_sequence('holders', 'id')) FROM generate_series(1, :n)")
        return [int(value) for value in session.scalars(query, {"n": count})]
    start = int(session.scalar(select(Holder.id).order_by(Holder.id.desc()).limit(1)) or 0) + 1
    return list(range(start, start + count))


def _copy(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """``COPY`` the rows in: an order of magnitude faster than a multi-row ``INSERT`` for 100,000 rows."""
    columns = list(rows[0])
    json_columns = {c.name for c in table.columns if c.type.__class__.__name__ in ("JSON", "JSONB", "Variant")}
    json_columns |= {name for name in columns if isinstance(rows[0][name], list | dict)}
    cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([json.dumps(row[c], ensure_ascii=False) if c in json_columns else row[c] for c in columns])
