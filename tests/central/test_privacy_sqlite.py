"""The retention purge, the stored-chain check and the plate export on central's embedded SQLite (the JSON paths
PostgreSQL filters on are checked in Python there)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.core.db import make_engine
from central.core.migrate import upgrade
from central.models import EdgeRecord
from central.privacy import plate_records, purge, verify_stored_chain
from parking.privacy import Retention
from parking.wire import GENESIS_HASH, RecordKind, seal

T0 = datetime(2025, 1, 1, 1, 0, tzinfo=UTC)
RULE = Retention(images_days=30, events_days=365)
NOW = T0 + timedelta(days=700)


def test_purge_chain_and_export_on_sqlite(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'central.sqlite3'}")
    upgrade(engine)
    prev = GENESIS_HASH
    with Session(engine) as session:
        for seq, days in ((1, 0), (2, 400), (3, 690)):  # 700, 300 and 10 days before NOW
            record = seal(id=f"r{seq}", seq=seq, kind=RecordKind.SESSION, car_park="lakeview", lane="in-1",
                          at=T0 + timedelta(days=days), prev_hash=prev,
                          payload={"event": "opened", "session": f"s{seq}", "plate": "粤B12345",
                                   "image": f"2025-01-01/r{seq}.jpg", "identity": {"plate": "粤B12345"}})  # fmt: skip
            prev = record.hash
            session.add(EdgeRecord(id=record.id, edge_id="e1", seq=seq, kind="session", car_park="lakeview",
                                   lane="in-1", at=record.at, payload=record.payload, prev_hash=record.prev_hash,
                                   hash=record.hash, hash_ok=True))  # fmt: skip
        session.commit()
        report = purge(session, RULE, now=NOW, user=None, images_dir=None, by="cron")
        assert (report.records, report.fields) == (2, 4)  # 700 days: plate, identity.plate, image; 300 days: image
        payloads = [r.payload for r in session.scalars(select(EdgeRecord).order_by(EdgeRecord.seq))]
        assert payloads[0]["_purged"]["fields"] == ["identity.plate", "image", "plate"]
        assert "plate" not in payloads[0]
        assert payloads[1]["_purged"]["fields"] == ["image"]
        assert payloads[1]["plate"] == "粤B12345"
        assert "_purged" not in payloads[2]
        chain = verify_stored_chain(session, "e1", retention=RULE, now=NOW)
        assert (chain.ok, chain.checked, chain.purged) == (True, 3, 2)
        assert [r.id for r in plate_records(session, "粤B12345").records] == ["r2", "r3"]
    engine.dispose()
