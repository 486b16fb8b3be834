"""Sending central the evidence images of exceptions and manual actions, after their records.

Which records: manual actions (a manual open), abnormal events (a back-out, tailgating, an opening without a
command...), waivers (a free or special vehicle), and lost-card payments (the entry picture of the vehicle whose
card is lost). Their journal payloads name a picture under the journal's image folder (``evidence``, or the entry
session's ``image``; see :mod:`edge.cameras`). Pictures of ordinary entries are not sent: they are many, and central
shows a picture it lacks by name.

Only records central has acknowledged are considered (central refuses a picture no record of the edge names), in
journal order, from a cursor kept in ``image_uploads.sqlite3`` beside the journal. A picture that is missing, a URL,
larger than the cap, or refused by central is logged and passed over; central down (or a 5xx) keeps the cursor where
it is, so the same pictures are tried again with the outbox's next round.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sqlite3
from pathlib import Path
from typing import Any

import httpx

from edge.store.journal import Journal

_LOGGER = logging.getLogger(__name__)

IMAGES_PATH = "/api/v1/edges/images/"
IMAGE_NAME = re.compile(r"^\d{4}-\d{2}-\d{2}/[A-Za-z0-9][A-Za-z0-9_-]{0,99}\.(jpg|jpeg|png)$")
_KINDS = ("manual_action", "abnormal_event", "transaction")


class ImageUploadError(Exception):
    """Central could not be reached, or answered a server error: try again later."""


class EvidenceUploader:
    def __init__(self, journal: Journal, client: httpx.AsyncClient, image_dir: Path, *,
                 max_bytes: int = 2_000_000, batch_size: int = 200) -> None:  # fmt: skip
        self.journal = journal
        self.client = client
        self.image_dir = image_dir
        self.max_bytes = max_bytes
        self.batch_size = batch_size
        self.uploaded = 0
        self._state = sqlite3.connect(journal.path.parent / "image_uploads.sqlite3", isolation_level=None,
                                      check_same_thread=False)  # fmt: skip
        self._state.execute("CREATE TABLE IF NOT EXISTS cursor (id INTEGER PRIMARY KEY CHECK (id = 1), "
                            "seq INTEGER NOT NULL)")  # fmt: skip
        self._state.execute("INSERT OR IGNORE INTO cursor (id, seq) VALUES (1, 0)")

    @property
    def cursor(self) -> int:
        """The last journal seq whose picture has been dealt with."""
        return int(self._state.execute("SELECT seq FROM cursor").fetchone()[0])

    def close(self) -> None:
        self._state.close()

    def _image_of(self, kind: str, payload: dict[str, Any]) -> str | None:
        if kind in ("manual_action", "abnormal_event") or payload.get("event") == "waiver":
            name = payload.get("evidence")
        elif payload.get("event") == "payment" and payload.get("lost_card") and payload.get("session"):
            found = self.journal.rows("SELECT json_extract(payload, '$.image') FROM records WHERE id = ?",
                                      (str(payload["session"]),))  # fmt: skip
            name = found[0][0] if found else None
        else:
            return None
        return name if isinstance(name, str) and IMAGE_NAME.fullmatch(name) else None

    def pending(self) -> list[tuple[int, str | None]]:
        """The next acknowledged records after the cursor, each with the picture it names (or None)."""
        rows = self.journal.rows(
            "SELECT seq, kind, payload FROM records WHERE sent = 1 AND seq > ? AND kind IN (?, ?, ?) "
            "ORDER BY seq LIMIT ?", (self.cursor, *_KINDS, self.batch_size),
        )  # fmt: skip
        out = []
        for seq, kind, text in rows:
            try:
                payload = json.loads(text)
            except ValueError:
                payload = {}
            out.append((int(seq), self._image_of(str(kind), payload if isinstance(payload, dict) else {})))
        return out

    def _file(self, name: str) -> bytes | None:
        path = (self.image_dir / name).resolve()
        if not path.is_relative_to(self.image_dir.resolve()) or not path.is_file():
            _LOGGER.warning("evidence image %s is not in the image folder: not sent", name)
            return None
        if path.stat().st_size > self.max_bytes:
            _LOGGER.warning("evidence image %s is larger than %d bytes: not sent", name, self.max_bytes)
            return None
        return path.read_bytes()

    async def _send(self, name: str, data: bytes) -> None:
        try:
            answer = await self.client.post(IMAGES_PATH + name, content=data,
                                            headers={"Content-Type": "application/octet-stream"})  # fmt: skip
        except httpx.HTTPError as err:
            raise ImageUploadError(f"image upload: {type(err).__name__}: {err}") from err
        if answer.status_code >= 500:
            raise ImageUploadError(f"image upload: HTTP {answer.status_code}")
        if answer.status_code != 200:
            _LOGGER.error("central refused evidence image %s: HTTP %s %s", name, answer.status_code, answer.text[:200])
        else:
            self.uploaded += 1

    async def upload_once(self) -> int:
        """Send the pictures of the next acknowledged records; answers how many records were dealt with."""
        pending = await asyncio.to_thread(self.pending)
        done = 0
        for seq, name in pending:
            if name is not None:
                data = await asyncio.to_thread(self._file, name)
                if data is not None:
                    await self._send(name, data)  # an ImageUploadError leaves the cursor before this record
            self._state.execute("UPDATE cursor SET seq = ? WHERE id = 1", (seq,))
            done += 1
        return done
