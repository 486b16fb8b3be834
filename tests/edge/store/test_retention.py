"""Retention at the edge, on a real SQLite journal: old plates, cards and pictures purged, young ones kept, the chain
still verified after the purge (tampering with an unpurged record still caught, a forged purge marker flagged), the
purge and a plate's export journaled."""

from __future__ import annotations

import json
import sqlite3
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from edge.lanes.actions import Commit, LaneAction
from edge.lanes.events import Loop, LoopChanged, PlateSeen, TakePayment
from edge.store.journal import Journal
from edge.store.retention import export_plate, purge
from parking.ids import id_time_ms
from parking.privacy import Retention
from parking.wire import RecordKind
from tests.edge.kit import T0, Clock, context, cross, entry_lane, exit_lane, feed

RULE = Retention(images_days=30, events_days=365)
NOW = T0 + timedelta(days=400)
OLD, MIDDLE, INSIDE = "粤B12345", "粤A99999", "粤C55555"  # 400, 60 and 20 days before NOW (the last still inside)
UTC8 = ZoneInfo("Asia/Shanghai")


def seen(plate: str, at: datetime, images: Path) -> tuple[list[LaneEvent], str]:
    name = f"{at.astimezone(UTC8):%Y-%m-%d}/{plate[-5:]}-{at:%H%M%S}-plate.jpg"
    (images / name).parent.mkdir(parents=True, exist_ok=True)
    (images / name).write_bytes(b"\xff\xd8\xff" + plate.encode() * 100)
    return [LoopChanged(Loop.ARMING, True), PlateSeen(plate, 0.95, image=name)], name


LaneEvent = LoopChanged | PlateSeen


def uuid7_at(at: datetime) -> str:
    """A UUIDv7 of that instant (``new_id`` keeps its ids increasing, so it cannot go back in time)."""
    ms = int(at.timestamp() * 1000)
    made = str(uuid.UUID(int=ms << 80 | 0x7 << 76 | 0b10 << 62 | 12345))
    assert id_time_ms(made) == ms
    return made


def commit_all(journal: Journal, actions: list[LaneAction]) -> None:
    for action in actions:
        if isinstance(action, Commit):
            journal.commit(action.drafts)


def a_day_of_traffic(tmp_path: Path) -> tuple[Journal, Path, dict[str, str]]:
    """Three vehicles: one 400 days ago, one 60 days ago (both in and out, paid), one that entered 20 days ago."""
    journal = Journal(tmp_path / "journal.sqlite3", "lakeview")
    images = tmp_path / "images"
    ctx = context()
    pictures = {}
    for plate, days_ago, leaves in ((OLD, 400, True), (MIDDLE, 60, True), (INSIDE, 20, False)):
        clock = Clock(NOW - timedelta(days=days_ago))
        events, pictures[plate] = seen(plate, clock.now, images)
        commit_all(journal, feed(entry_lane(ctx), clock, *events, *cross()))
        if leaves:
            clock.advance(2 * 3600)
            lane = exit_lane(ctx)
            out, _ = seen(plate, clock.now, images)
            actions = feed(lane, clock, *out, TakePayment(operator="c-7", reason="cash", amount=1500))
            commit_all(journal, actions + feed(lane, clock, *cross()))
    journal.mark_sent([r.id for r in journal.records(0, 10_000)])  # central acknowledged everything
    return journal, images, pictures


def payloads_naming(journal: Journal, text: str) -> list[int]:
    return [int(seq) for seq, payload in journal.rows("SELECT seq, payload FROM records") if text in payload]


def test_old_records_and_pictures_are_purged_and_younger_ones_kept(tmp_path: Path) -> None:
    journal, images, pictures = a_day_of_traffic(tmp_path)
    before = journal.verify_chain()
    assert before.ok
    assert before.purged == 0
    totals = journal.rows("SELECT sum(amount), count(*) FROM transactions")
    assert payloads_naming(journal, OLD)
    assert payloads_naming(journal, pictures[MIDDLE])

    # A lane's snapshots (named by UUIDv7): one taken 400 days ago goes, one taken 10 days ago stays.
    (images / "snapshots").mkdir()
    old_snapshot = images / "snapshots" / f"{uuid7_at(NOW - timedelta(days=400))}.jpg"
    new_snapshot = images / "snapshots" / f"{uuid7_at(NOW - timedelta(days=10))}.jpg"
    for snapshot in (old_snapshot, new_snapshot):
        snapshot.write_bytes(b"\xff\xd8\xff snapshot")

    report = purge(journal, RULE, by="supervisor 李", now=NOW, require_sent=True, image_dir=images, zone=UTC8)
    assert (old_snapshot.exists(), new_snapshot.exists()) == (False, True)

    # 400 days old: plate, card and picture references gone from the records and the domain tables.
    assert payloads_naming(journal, OLD) == []
    assert journal.rows("SELECT plate, card FROM sessions WHERE status = 'closed' AND entry_at < ?",
                        ((NOW - timedelta(days=365)).isoformat(),)) == [(None, None)]  # fmt: skip
    # 60 days old: the picture references gone, the plate kept.
    assert payloads_naming(journal, pictures[MIDDLE]) == []
    assert payloads_naming(journal, MIDDLE) != []
    assert journal.rows("SELECT plate FROM sessions WHERE plate = ?", (MIDDLE,)) == [(MIDDLE,)]
    # Inside the car park: its records whole, its picture kept even though its day is past the image retention.
    assert payloads_naming(journal, INSIDE) != []
    assert payloads_naming(journal, pictures[INSIDE]) != []
    assert (images / pictures[INSIDE]).is_file()
    assert not (images / pictures[OLD]).exists()
    assert not (images / pictures[MIDDLE]).exists()
    assert report.files == 5  # four pushed pictures and a snapshot
    assert report.bytes > 0
    assert report.records > 0
    assert report.fields >= report.records
    # Money is not personal: the amounts and their count are as before.
    assert journal.rows("SELECT sum(amount), count(*) FROM transactions") == totals

    # The purge is journaled: who, the cutoffs, then how many.
    started, listed, done = [json.loads(p) for (p,) in journal.rows(
        "SELECT payload FROM records WHERE kind = 'privacy' ORDER BY seq")]  # fmt: skip
    assert (listed["event"], listed["purge"], len(listed["seqs"])) == (
        "purged_records",
        report.purge_id,
        report.records,
    )
    assert (started["event"], started["by"], started["retention"]) == (
        "purge",
        "supervisor 李",
        {"images_days": 30, "events_days": 365},
    )
    assert (done["event"], done["purge"], done["records"], done["files"]) == (
        "purged",
        report.purge_id,
        report.records,
        5,
    )

    check = journal.verify_chain(RULE, NOW)
    assert check.ok, check
    assert (check.checked, check.purged) == (journal.last_seq, report.records)

    again = purge(journal, RULE, by="cron", now=NOW, require_sent=True, image_dir=images, zone=UTC8)
    assert (again.records, again.files) == (0, 0)  # nothing left to remove
    assert journal.verify_chain(RULE, NOW).ok
    # 320 days on, the second vehicle's plate goes too (its pictures went before); the one inside keeps its own.
    later = NOW + timedelta(days=320)
    third = purge(journal, RULE, by="cron", now=later, require_sent=True, image_dir=images, zone=UTC8)
    assert third.records > 0
    assert payloads_naming(journal, MIDDLE) == []
    assert payloads_naming(journal, INSIDE) != []
    assert third.kept_open > 0
    check = journal.verify_chain(RULE, later)
    assert check.ok, check
    assert check.purged == len(payloads_naming(journal, '"_purged":')) == report.records + 1  # one purged twice


def test_tampering_with_an_unpurged_record_after_a_purge_is_still_caught(tmp_path: Path) -> None:
    journal, images, _ = a_day_of_traffic(tmp_path)
    purge(journal, RULE, by="cron", now=NOW, require_sent=True, image_dir=images, zone=UTC8)
    (seq, payload), *_ = journal.rows(
        "SELECT seq, payload FROM records WHERE kind = 'transaction' AND payload LIKE ?", (f"%{MIDDLE}%",)
    )
    journal.close()
    altered = payload.replace('"amount":1500', '"amount":500')
    assert altered != payload
    with sqlite3.connect(tmp_path / "journal.sqlite3") as db:
        db.execute("UPDATE records SET payload = ? WHERE seq = ?", (altered, seq))
    check = Journal(tmp_path / "journal.sqlite3", "lakeview").verify_chain(RULE, NOW)
    assert (check.ok, check.first_bad_seq, check.detail) == (False, seq, "hash mismatch")


def test_a_purge_marker_the_retention_does_not_explain_is_flagged(tmp_path: Path) -> None:
    journal, images, _ = a_day_of_traffic(tmp_path)
    report = purge(journal, RULE, by="cron", now=NOW, require_sent=True, image_dir=images, zone=UTC8)
    (seq, payload), *_ = journal.rows(
        "SELECT seq, payload FROM records WHERE kind = 'session' AND payload LIKE ?", (f"%{INSIDE}%",)
    )
    journal.close()
    forged = json.loads(payload)
    del forged["plate"]
    # A record 20 days old "purged" of its plate, naming the real purge: the purge's cutoff does not cover it.
    forged["_purged"] = {"at": "2027-12-31T00:00:00.000000Z", "by": report.purge_id, "fields": ["plate"]}
    with sqlite3.connect(tmp_path / "journal.sqlite3") as db:
        db.execute("UPDATE records SET payload = ? WHERE seq = ?", (json.dumps(forged), seq))
    check = Journal(tmp_path / "journal.sqlite3", "lakeview").verify_chain(RULE, NOW)
    assert (check.ok, check.first_bad_seq) == (False, seq)
    assert "younger than the purge's event cutoff" in check.detail
    # Naming no journaled purge at all is flagged too.
    forged["_purged"]["by"] = "01000000-0000-7000-8000-000000000000"
    with sqlite3.connect(tmp_path / "journal.sqlite3") as db:
        db.execute("UPDATE records SET payload = ? WHERE seq = ?", (json.dumps(forged), seq))
    check = Journal(tmp_path / "journal.sqlite3", "lakeview").verify_chain(RULE, NOW)
    assert not check.ok
    assert "not journaled" in check.detail


def test_a_record_altered_and_marked_purged_that_the_purge_did_not_touch_is_flagged(tmp_path: Path) -> None:
    journal, images, _ = a_day_of_traffic(tmp_path)
    report = purge(journal, RULE, by="cron", now=NOW, require_sent=True, image_dir=images, zone=UTC8)
    # The 60-day-old payment: past the image retention, so a marker "image purged" by the real purge fits its cutoffs;
    # its amount is lowered under that cover. The purge never listed it (it had no picture reference).
    (seq, payload), *_ = journal.rows(
        "SELECT seq, payload FROM records WHERE kind = 'transaction' AND payload LIKE ?", (f"%{MIDDLE}%",)
    )
    journal.close()
    forged = json.loads(payload)
    assert "_purged" not in forged
    forged["amount"] = 1
    forged["_purged"] = {"at": "2027-12-31T00:00:00.000000Z", "by": report.purge_id, "fields": ["image"]}
    with sqlite3.connect(tmp_path / "journal.sqlite3") as db:
        db.execute("UPDATE records SET payload = ? WHERE seq = ?", (json.dumps(forged), seq))
    check = Journal(tmp_path / "journal.sqlite3", "lakeview").verify_chain(RULE, NOW)
    assert (check.ok, check.first_bad_seq, check.detail) == (
        False,
        seq,
        "purge marker: the purge it names did not list it",
    )


def test_records_central_has_not_acknowledged_are_kept_whole(tmp_path: Path) -> None:
    journal, images, _ = a_day_of_traffic(tmp_path)
    journal.rows("UPDATE records SET sent = 0")
    report = purge(journal, RULE, by="cron", now=NOW, require_sent=True, image_dir=images, zone=UTC8)
    assert report.records == 0
    assert report.kept_unsent > 0
    assert payloads_naming(journal, OLD) != []
    assert journal.verify_chain(RULE, NOW).ok


def test_an_export_returns_exactly_that_plates_records_and_is_journaled(tmp_path: Path) -> None:
    journal, _images, pictures = a_day_of_traffic(tmp_path)
    session_of_middle = {json.loads(p).get("session") for (p,) in journal.rows(
        "SELECT payload FROM records WHERE payload LIKE ?", (f"%{MIDDLE}%",))} - {None}  # fmt: skip
    assert len(session_of_middle) == 1
    export = export_plate(journal, "粤a99999", by="supervisor 李", reason="data-subject request #12", now=NOW)
    assert export.plate == MIDDLE
    kinds = sorted({r["kind"] for r in export.records})
    assert kinds == ["barrier_command", "session", "transaction"]
    for record in export.records:
        text = json.dumps(record["payload"], ensure_ascii=False)
        assert OLD not in text
        assert INSIDE not in text
        assert (
            MIDDLE in text
            or record["payload"].get("session") in session_of_middle
            or record["payload"].get("for_record") in session_of_middle
        )
    assert pictures[MIDDLE] in export.images
    assert pictures[OLD] not in export.images
    csv_rows = export.as_csv().strip().splitlines()
    assert len(csv_rows) == len(export.records) + 1
    assert csv_rows[0].startswith("seq,id,kind")
    ((audit,),) = journal.rows("SELECT payload FROM records WHERE kind = ?", (RecordKind.PRIVACY.value,))
    assert json.loads(audit) == {"event": "exported", "plate": MIDDLE, "by": "supervisor 李",
                                 "reason": "data-subject request #12", "records": len(export.records),
                                 "images": len(export.images)}  # fmt: skip
    assert journal.verify_chain().ok
