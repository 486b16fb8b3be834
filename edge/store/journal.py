"""The local journal: SQLite in WAL mode, one hash-chained record log plus one table per kind of record.

Every :class:`~edge.lanes.actions.Draft` becomes, in one SQLite transaction, a row of its domain table (sessions,
transactions, barrier commands, manual actions, abnormal events) and a sealed :class:`~parking.wire.JournalRecord`
in ``records`` (seq, prev_hash, hash). A crash at any instant leaves either all of a commit or none of it, so the
chain never has a hole and a session row never lacks its record. ``records.sent`` is the outbox: 0 waiting, 1
acknowledged by central, 2 refused by central (kept, with why).
"""

from __future__ import annotations

import json
import logging
import shutil
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from edge.lanes.actions import Draft
from edge.lanes.park import Session
from parking.privacy import PurgeCutoffs, Retention, purge_marker, purged_problem
from parking.wire import GENESIS_HASH, JournalRecord, RecordKind, Rejection, seal, verify_record

BOOTH_KINDS = ("shift", "shift_report", "transaction", "manual_action")  # the kinds a booth's records have

_LOGGER = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, car_park TEXT NOT NULL, lane TEXT,
    at TEXT NOT NULL, payload TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL,
    sent INTEGER NOT NULL DEFAULT 0, sent_at TEXT, reject_code TEXT, reject_message TEXT
);
CREATE INDEX IF NOT EXISTS records_outbox ON records(sent, seq);
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY, status TEXT NOT NULL CHECK (status IN ('open', 'closed', 'void')), kind TEXT NOT NULL,
    vehicle_class TEXT NOT NULL, plate TEXT, card TEXT, pass_id TEXT, entry_at TEXT NOT NULL, entry_lane TEXT,
    exit_at TEXT, exit_lane TEXT, data TEXT NOT NULL, record_id TEXT NOT NULL REFERENCES records(id)
);
CREATE INDEX IF NOT EXISTS sessions_open ON sessions(status);
CREATE TABLE IF NOT EXISTS transactions (
    id TEXT PRIMARY KEY REFERENCES records(id), session_id TEXT, lane TEXT, at TEXT NOT NULL, kind TEXT NOT NULL,
    amount INTEGER NOT NULL, currency TEXT NOT NULL, tariff_id TEXT, tariff_hash TEXT, lines TEXT NOT NULL,
    payload TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS barrier_commands (
    id TEXT PRIMARY KEY REFERENCES records(id), lane TEXT, at TEXT NOT NULL, command TEXT NOT NULL,
    for_record TEXT, reason TEXT
);
CREATE TABLE IF NOT EXISTS manual_actions (
    id TEXT PRIMARY KEY REFERENCES records(id), lane TEXT, at TEXT NOT NULL, action TEXT NOT NULL,
    operator TEXT NOT NULL, reason TEXT NOT NULL, evidence TEXT, payload TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS abnormal_events (
    id TEXT PRIMARY KEY REFERENCES records(id), lane TEXT, at TEXT NOT NULL, event TEXT NOT NULL,
    session_id TEXT, evidence TEXT, payload TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS device_faults (
    id TEXT PRIMARY KEY REFERENCES records(id), device TEXT NOT NULL, at TEXT NOT NULL, cleared_by TEXT
);
CREATE INDEX IF NOT EXISTS device_faults_open ON device_faults(cleared_by) WHERE cleared_by IS NULL;
"""

SELECT_RECORDS = "SELECT seq, id, kind, car_park, lane, at, payload, prev_hash, hash FROM records"


class JournalError(Exception):
    """The journal could not store a record (disk full, file gone, corrupt): the lane must not open."""


class JournalClosedError(JournalError):
    """The journal was closed (the edge is stopping): nothing more can be stored in it."""


@dataclass(frozen=True, slots=True)
class ChainCheck:
    ok: bool
    checked: int
    first_bad_seq: int | None = None
    detail: str = ""
    purged: int = 0  # records whose personal fields a retention purge removed: linked, not recomputed


class JournalTransaction:
    """An open write transaction of a :class:`Journal` (see :meth:`Journal.transaction`)."""

    def __init__(self, journal: Journal, seq: int, head: str) -> None:
        self._journal = journal
        self.seq, self.head = seq, head

    @property
    def db(self) -> sqlite3.Connection:
        return self._journal._db

    def append(self, drafts: Sequence[Draft]) -> list[JournalRecord]:
        """Seal the drafts onto the chain in this transaction."""
        return self._journal._append(self, drafts)


def _utc_text(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


class Journal:
    """One edge's journal file. Thread-safe (one lock); give it its own thread so commits never block a loop."""

    def __init__(
        self,
        path: str | Path,
        car_park: str,
        *,
        synchronous: Literal["FULL", "NORMAL", "EXTRA"] = "FULL",
        busy_timeout_s: float = 5.0,
        background_checkpoint: bool = False,
    ) -> None:
        self.path = Path(path)
        self.car_park = car_park
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=busy_timeout_s)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={synchronous}")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(SCHEMA)
        self._checkpointer: sqlite3.Connection | None = None
        self._checkpoint_lock = threading.Lock()
        self._closed = False
        self._db_closed = False
        if background_checkpoint:
            # Checkpoints (copying the WAL into the database, with an fsync) are left to :meth:`checkpoint` on its
            # own connection, so a lane's commit never pays for one.
            self._db.execute("PRAGMA wal_autocheckpoint=0")
        row = self._db.execute("SELECT seq, hash FROM records ORDER BY seq DESC LIMIT 1").fetchone()
        self._seq, self._head = (int(row[0]), str(row[1])) if row else (0, GENESIS_HASH)

    @property
    def last_seq(self) -> int:
        return self._seq

    def free_bytes(self) -> int:
        """The space left on the journal's file system (for new records, its WAL and checkpoints)."""
        return shutil.disk_usage(self.path.parent).free

    def close(self) -> None:
        with self._lock:
            self._db.close()
            self._db_closed = True
        # A checkpoint may still run in its thread (cancelling the task that awaits it does not stop it): closing its
        # connection under it would crash the process, so wait for it.
        with self._checkpoint_lock:
            self._closed = True
            if self._checkpointer is not None:
                self._checkpointer.close()
                self._checkpointer = None

    def checkpoint(self) -> tuple[int, int]:
        """Copy committed WAL pages into the database without blocking writers (PASSIVE); returns (wal pages,
        pages copied). Run it from a background thread, e.g. every few seconds; after :meth:`close` it does nothing."""
        with self._checkpoint_lock:
            if self._closed:
                return 0, 0
            if self._checkpointer is None:
                self._checkpointer = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            row = self._checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            wal_pages, copied = int(row[1]), int(row[2])
            if wal_pages > 0 and copied == wal_pages:
                self._restart_wal()
            return wal_pages, copied

    def _restart_wal(self) -> None:
        """Start the WAL over here, in the checkpoint's thread, rather than in the next lane's commit.

        Once a checkpoint has copied the whole WAL, the next write transaction rewrites the WAL's header and, with
        synchronous FULL or NORMAL, syncs it before it writes its own pages and syncs again: two fsyncs in a row.
        The checkpoint runs every few seconds and a quiet lane decides less often than that, so without this nearly
        every decision would pay the second fsync before its barrier opens. One page written here (the header's
        user_version, rewritten unchanged) moves that restart off the lanes' path."""
        with self._lock:
            if self._db_closed:  # every write holds the lock: no transaction is open here
                return
            try:
                self._db.execute("BEGIN IMMEDIATE")
                (version,) = self._db.execute("PRAGMA user_version").fetchone()
                self._db.execute(f"PRAGMA user_version = {int(version)}")
                self._db.execute("COMMIT")
            except sqlite3.Error:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                _LOGGER.debug("journal %s: WAL restart left to the next commit", self.path, exc_info=True)

    # ------------------------------------------------------------------------------------------------ writing

    def commit(self, drafts: Sequence[Draft]) -> list[JournalRecord]:
        """Store the drafts, chained, in one transaction; return the sealed records. Raises :class:`JournalError`."""
        with self.transaction(f"commit {len(drafts)} records") as tx:
            return tx.append(drafts)

    @contextmanager
    def transaction(self, what: str) -> Iterator[JournalTransaction]:
        """One write transaction under the journal's lock: rows it changes and records it appends commit together
        (or not at all). Raises :class:`JournalError` naming ``what`` when SQLite refuses."""
        with self._lock:
            if self._db_closed:
                raise JournalClosedError(f"journal {self.path}: cannot {what}: the journal is closed")
            tx = JournalTransaction(self, self._seq, self._head)
            try:
                self._db.execute("BEGIN IMMEDIATE")
                yield tx
                self._db.execute("COMMIT")
            except sqlite3.Error as err:
                try:
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                except sqlite3.Error:
                    _LOGGER.exception("journal %s: rollback failed", self.path)
                raise JournalError(f"journal {self.path}: cannot {what}: {err}") from err
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
            self._seq, self._head = tx.seq, tx.head

    def _append(self, tx: JournalTransaction, drafts: Sequence[Draft]) -> list[JournalRecord]:
        sealed: list[JournalRecord] = []
        for draft in drafts:
            seq = tx.seq + 1
            payload = json.loads(_dumps(draft.payload))  # exactly what is stored is what is hashed
            record = seal(
                id=draft.id, seq=seq, kind=draft.kind, car_park=self.car_park, lane=draft.lane,
                at=draft.at, payload=payload, prev_hash=tx.head,
            )  # fmt: skip
            self._db.execute(
                "INSERT INTO records (seq, id, kind, car_park, lane, at, payload, prev_hash, hash)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (seq, record.id, record.kind.value, record.car_park, record.lane, _utc_text(record.at),
                 _dumps(payload), record.prev_hash, record.hash),
            )  # fmt: skip
            self._write_domain_row(draft, payload)
            tx.seq, tx.head = seq, record.hash
            sealed.append(record)
        return sealed

    def _write_domain_row(self, draft: Draft, p: dict[str, Any]) -> None:
        at, lane, db = _utc_text(draft.at), draft.lane, self._db
        if draft.kind is RecordKind.SESSION:
            event = p.get("event")
            if event in ("opened", "reopened"):
                db.execute(
                    "INSERT OR REPLACE INTO sessions (id, status, kind, vehicle_class, plate, card, pass_id, entry_at,"
                    " entry_lane, data, record_id) VALUES (?, 'open', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (p["session"], p["session_kind"], p["vehicle_class"], p.get("plate"), p.get("card"),
                     p.get("pass_id"), p["entry_at"], p.get("entry_lane"), _dumps(p), draft.id),
                )  # fmt: skip
            elif event == "closed":
                db.execute(
                    "UPDATE sessions SET status = 'closed', exit_at = ?, exit_lane = ? WHERE id = ?",
                    (p.get("exit_at"), p.get("exit_lane"), p["session"]),
                )
            elif event == "paid":  # paid ahead of the exit: kept in the data a restart recovers the session from
                db.execute(
                    "UPDATE sessions SET data = json_set(data, '$.paid', ?, '$.paid_at', ?) WHERE id = ?",
                    (p["paid"], p["paid_at"], p["session"]),
                )
            elif event == "voided":
                db.execute("UPDATE sessions SET status = 'void' WHERE id = ?", (p["session"],))
        elif draft.kind is RecordKind.TRANSACTION:
            db.execute(
                "INSERT INTO transactions (id, session_id, lane, at, kind, amount, currency, tariff_id, tariff_hash,"
                " lines, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (draft.id, p.get("session"), lane, at, p.get("transaction_kind", ""), int(p.get("amount", 0)),
                 p.get("currency", ""), p.get("tariff_id"), p.get("tariff_hash"), _dumps(p.get("lines", [])),
                 _dumps(p)),
            )  # fmt: skip
        elif draft.kind is RecordKind.BARRIER_COMMAND:
            db.execute(
                "INSERT INTO barrier_commands (id, lane, at, command, for_record, reason) VALUES (?, ?, ?, ?, ?, ?)",
                (draft.id, lane, at, p.get("command", ""), p.get("for_record"), p.get("reason")),
            )
        elif draft.kind is RecordKind.MANUAL_ACTION:
            db.execute(
                "INSERT INTO manual_actions (id, lane, at, action, operator, reason, evidence, payload)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (draft.id, lane, at, p["action"], p["operator"], p["reason"], p.get("evidence"), _dumps(p)),
            )
        elif draft.kind is RecordKind.DEVICE_FAULT:
            if p.get("event") == "started":
                db.execute("INSERT INTO device_faults (id, device, at) VALUES (?, ?, ?)", (draft.id, p["device"], at))
            else:
                db.execute("UPDATE device_faults SET cleared_by = ? WHERE id = ?", (draft.id, p.get("fault")))
        elif draft.kind is RecordKind.ABNORMAL_EVENT:
            db.execute(
                "INSERT INTO abnormal_events (id, lane, at, event, session_id, evidence, payload)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (draft.id, lane, at, p["event"], p.get("session"), p.get("evidence"), _dumps(p)),
            )

    # ------------------------------------------------------------------------------------------------ reading

    def open_device_faults(self) -> dict[str, tuple[str, datetime]]:
        """The device faults not cleared yet (a device down when the edge stopped): device -> (record id, since)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT device, id, at FROM device_faults WHERE cleared_by IS NULL ORDER BY at"
            ).fetchall()
        return {device: (record_id, datetime.fromisoformat(at)) for device, record_id, at in rows}

    def open_sessions(self) -> list[Session]:
        """The sessions still open (vehicles inside), to rebuild the car park's state after a restart."""
        with self._lock:
            rows = self._db.execute("SELECT data FROM sessions WHERE status = 'open' ORDER BY entry_at").fetchall()
        return [Session.from_payload(json.loads(row[0])) for row in rows]

    def count(self, table: str, where: str = "1 = 1", params: Sequence[Any] = ()) -> int:
        if table not in ("records", "sessions", "transactions", "barrier_commands", "manual_actions",
                         "abnormal_events", "device_faults"):  # fmt: skip
            raise ValueError(f"no table {table!r}")
        with self._lock:
            return int(self._db.execute(f"SELECT count(*) FROM {table} WHERE {where}", params).fetchone()[0])  # noqa: S608

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Read-only query for reports and tests."""
        with self._lock:
            return list(self._db.execute(sql, params).fetchall())

    def booth_payloads(self, booth: str) -> list[dict[str, Any]]:
        """The payloads of a booth's shift records (they carry ``booth`` and ``event``), in journal order."""
        marks = ", ".join(f"'{k}'" for k in BOOTH_KINDS)
        rows = self.rows(
            f"SELECT payload FROM records WHERE kind IN ({marks}) AND json_extract(payload, '$.booth') = ? "  # noqa: S608
            "AND json_extract(payload, '$.event') IS NOT NULL ORDER BY seq",
            (booth,),
        )
        return [json.loads(row[0]) for row in rows]

    def entry_images(self, sessions: Sequence[str]) -> dict[str, str]:
        """The entry image reference of each of these sessions whose opening record names one."""
        if not sessions:
            return {}
        found = self.rows(
            "SELECT json_extract(payload, '$.session'), json_extract(payload, '$.image') FROM records "
            "WHERE kind = 'session' AND json_extract(payload, '$.event') = 'opened' "
            "AND json_extract(payload, '$.image') IS NOT NULL "
            "AND json_extract(payload, '$.session') IN (SELECT value FROM json_each(?))",
            (json.dumps(list(sessions)),),
        )
        return {str(session): str(image) for session, image in found}

    def _record(self, row: tuple[Any, ...]) -> JournalRecord:
        seq, rid, kind, car_park, lane, at, payload, prev_hash, digest = row
        # Not re-validated: a record journaled outside the wire bounds (say at a clock of 1970) must still be sent,
        # central quarantines it; a validation error here would stop the outbox for ever.
        return JournalRecord.model_construct(
            id=rid, seq=seq, kind=RecordKind(kind), car_park=car_park, lane=lane, at=datetime.fromisoformat(at),
            payload=json.loads(payload), prev_hash=prev_hash, hash=digest,
        )  # fmt: skip

    def unsent(self, limit: int = 500) -> list[JournalRecord]:
        """The oldest records central has not acknowledged yet, in chain order."""
        with self._lock:
            rows = self._db.execute(SELECT_RECORDS + " WHERE sent = 0 ORDER BY seq LIMIT ?", (limit,)).fetchall()
        return [self._record(r) for r in rows]

    def backlog(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM records WHERE sent = 0").fetchone()[0])

    def mark_sent(self, ids: Sequence[str], rejected: Sequence[Rejection] = ()) -> None:
        """Central acknowledged ``ids`` (stored or already had them) and refused ``rejected`` (kept, marked)."""
        now = _utc_text(datetime.now(UTC))
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany("UPDATE records SET sent = 1, sent_at = ? WHERE id = ?", [(now, i) for i in ids])
                self._db.executemany(
                    "UPDATE records SET sent = 2, sent_at = ?, reject_code = ?, reject_message = ? WHERE id = ?",
                    [(now, r.code, r.message, r.id) for r in rejected],
                )
                self._db.execute("COMMIT")
            except sqlite3.Error:
                self._db.execute("ROLLBACK")
                raise

    def records(self, after_seq: int = 0, limit: int = 1000) -> list[JournalRecord]:
        with self._lock:
            rows = self._db.execute(
                SELECT_RECORDS + " WHERE seq > ? ORDER BY seq LIMIT ?", (after_seq, limit)
            ).fetchall()
        return [self._record(r) for r in rows]

    def verify_chain(self, retention: Retention | None = None, now: datetime | None = None) -> ChainCheck:
        """Walk the whole chain: every record links to the one before; an unpurged record's hash matches its content;
        a purged one (see :mod:`parking.privacy`) is covered by a purge journaled after it and, given ``retention``,
        is older than today's retention for the fields it lost."""
        prev, expected_seq, checked = GENESIS_HASH, 1, 0
        after = 0
        purges: dict[str, tuple[int, PurgeCutoffs]] = {}
        listed: set[tuple[str, int]] = set()  # (purge id, seq) of every record a purge says it rewrote
        purged: list[JournalRecord] = []
        while True:
            batch = self.records(after, 2000)
            if not batch:
                break
            for record in batch:
                if record.seq != expected_seq:
                    return ChainCheck(False, checked, record.seq, f"seq {expected_seq} missing")
                if record.prev_hash != prev:
                    return ChainCheck(False, checked, record.seq, "hash mismatch: prev_hash is not the hash before")
                if purge_marker(record.payload) is not None:
                    purged.append(record)
                elif not verify_record(record):
                    return ChainCheck(False, checked, record.seq, "hash mismatch")
                if record.kind is RecordKind.PRIVACY:
                    self._note_purge(record, purges, listed)
                prev, expected_seq, checked = record.hash, expected_seq + 1, checked + 1
            after = batch[-1].seq
        for record in purged:
            by = purge_marker(record.payload) or {}
            journaled = purges.get(str(by.get("by")))
            if journaled is not None and journaled[0] <= record.seq:
                return ChainCheck(False, checked, record.seq, "purged by a purge journaled before the record")
            covering = {str(by.get("by")): journaled[1]} if journaled else {}
            if problem := purged_problem(record.payload, record.at, covering, retention=retention, now=now):
                return ChainCheck(False, checked, record.seq, f"purge marker: {problem}", len(purged))
            if (str(by.get("by")), record.seq) not in listed:
                return ChainCheck(False, checked, record.seq, "purge marker: the purge it names did not list it")
        return ChainCheck(True, checked, purged=len(purged))

    @staticmethod
    def _note_purge(record: JournalRecord, purges: dict[str, tuple[int, PurgeCutoffs]],
                    listed: set[tuple[str, int]]) -> None:  # fmt: skip
        """What a purge's own records say: its cutoffs (``purge``) and the seqs it rewrote (``purged_records``)."""
        event = record.payload.get("event")
        if event == "purge" and (cutoffs := PurgeCutoffs.from_payload(record.payload)):
            purges[record.id] = (record.seq, cutoffs)
        elif event == "purged_records" and isinstance(seqs := record.payload.get("seqs"), list):
            listed.update((str(record.payload.get("purge")), seq) for seq in seqs if isinstance(seq, int))
