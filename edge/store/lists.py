"""The local copy of central's lists (passes, access cards, free/special/blacklist vehicles, tariffs) and the
sync version, in a SQLite file beside the journal.

A separate file keeps a large sync page (a full snapshot) from ever holding the journal's write lock: lanes keep
committing entries while the lists are replaced. Each page is applied in one transaction, version included, so a
crash never leaves half a page.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

from edge.lanes.directory import Directory
from parking.wire import CardRecord, ListKind, PassRecord, SyncPage, TariffRecord, VehicleEntry

_LOGGER = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS passes (id TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cards (id TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS vehicles (id TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tariffs (id TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sync_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

_TABLES = {
    ListKind.PASSES: "passes",
    ListKind.CARDS: "cards",
    ListKind.VEHICLES: "vehicles",
    ListKind.TARIFFS: "tariffs",
}


def lists_path(journal_path: str | Path) -> Path:
    """The lists file that goes with a journal: ``x.sqlite3`` -> ``x.lists.sqlite3``."""
    path = Path(journal_path)
    return path.with_name(f"{path.stem}.lists{path.suffix or '.sqlite3'}")


class ListStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @property
    def version(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT value FROM sync_state WHERE key = 'version'").fetchone()
        return int(row[0]) if row else 0

    def apply(self, page: SyncPage, *, replace: bool) -> None:
        """Apply one sync page in one transaction; ``replace`` empties the lists first (a full snapshot's start)."""
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                if replace:
                    for table in _TABLES.values():
                        db.execute(f"DELETE FROM {table}")  # noqa: S608 (fixed table names)
                rows: list[tuple[str, list[PassRecord] | list[CardRecord] | list[VehicleEntry] | list[TariffRecord]]]
                rows = [("passes", page.passes), ("cards", page.cards), ("vehicles", page.vehicles),
                        ("tariffs", page.tariffs)]  # fmt: skip
                for table, items in rows:
                    db.executemany(
                        f"INSERT OR REPLACE INTO {table} (id, data) VALUES (?, ?)",  # noqa: S608
                        [(item.id, item.model_dump_json()) for item in items],
                    )
                for gone in page.deleted:
                    db.execute(f"DELETE FROM {_TABLES[gone.kind]} WHERE id = ?", (gone.id,))  # noqa: S608
                db.execute("INSERT OR REPLACE INTO sync_state (key, value) VALUES ('version', ?)", (str(page.version),))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def _load(self, table: str) -> list[str]:
        with self._lock:
            return [row[0] for row in self._db.execute(f"SELECT data FROM {table} ORDER BY id")]  # noqa: S608

    def passes(self) -> list[PassRecord]:
        return [PassRecord.model_validate_json(d) for d in self._load("passes")]

    def cards(self) -> list[CardRecord]:
        return [CardRecord.model_validate_json(d) for d in self._load("cards")]

    def vehicles(self) -> list[VehicleEntry]:
        return [VehicleEntry.model_validate_json(d) for d in self._load("vehicles")]

    def tariffs(self) -> list[TariffRecord]:
        return [TariffRecord.model_validate_json(d) for d in self._load("tariffs")]

    def directory(self, car_park: str) -> Directory:
        """Build the in-memory lists the lanes decide with."""
        return Directory(car_park, self.passes(), self.cards(), self.vehicles(), version=self.version)
