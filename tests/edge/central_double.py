"""A small, real HTTP server speaking the wire contract (:mod:`parking.wire`) for the edge's sync tests.

It is not a mock of the HTTP client: the edge talks to it over a localhost socket with httpx. It keeps ingested
records once per id, checks the hash chain, serves list versions as full snapshots or deltas (paged like central),
and can be made to fail (HTTP 503), to lose its answers after storing (so the edge retries into duplicates), or
be stopped and started again on the same port (an outage).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from parking.wire import (
    INGEST_PATH,
    SYNC_PATH,
    CardRecord,
    ChainStatus,
    Deletion,
    ErrorBody,
    IngestAck,
    IngestBatch,
    JournalRecord,
    ListKind,
    PassRecord,
    SyncPage,
    TariffRecord,
    VehicleEntry,
    verify_record,
)

TOKEN = "edge-secret"
ListItem = PassRecord | CardRecord | VehicleEntry | TariffRecord
_KIND = {PassRecord: ListKind.PASSES, CardRecord: ListKind.CARDS, VehicleEntry: ListKind.VEHICLES,
         TariffRecord: ListKind.TARIFFS}  # fmt: skip


@dataclass
class CentralDouble:
    edge_id: str = "lakeview-edge"
    records: dict[str, JournalRecord] = field(default_factory=dict)
    fail_next: int = 0  # answer 503 to this many requests
    lose_answers: int = 0  # store, then answer 500 (the edge must retry; central then says duplicate)
    batches: int = 0
    version: int = 0
    purged_through: int = 0
    items: dict[tuple[ListKind, str], tuple[int, ListItem]] = field(default_factory=dict)
    deletions: list[tuple[int, Deletion]] = field(default_factory=list)
    port: int = 0
    _runner: web.AppRunner | None = None

    # ------------------------------------------------------------------------------------------- lists

    def publish(self, item: ListItem) -> int:
        self.version += 1
        self.items[(_KIND[type(item)], item.id)] = (self.version, item)
        return self.version

    def delete(self, kind: ListKind, item_id: str) -> int:
        self.version += 1
        self.items.pop((kind, item_id), None)
        self.deletions.append((self.version, Deletion(kind=kind, id=item_id)))
        return self.version

    def page(self, since: int, limit: int) -> SyncPage:
        full = since == 0 or since < self.purged_through or since > self.version
        changes: list[tuple[int, ListItem | Deletion]] = [
            (v, item) for v, item in self.items.values() if full or v > since
        ]
        if not full:
            changes += [(v, d) for v, d in self.deletions if v > since]
        changes.sort(key=lambda c: c[0])
        more = len(changes) > limit
        changes = changes[:limit]
        version = changes[-1][0] if more else self.version
        body: dict[str, list[Any]] = {"passes": [], "cards": [], "vehicles": [], "tariffs": [], "deleted": []}
        for _, change in changes:
            if isinstance(change, Deletion):
                body["deleted"].append(change)
            else:
                body[_KIND[type(change)].value].append(change)
        return SyncPage(since=since, version=version, full=full, more=more, **body)

    # ------------------------------------------------------------------------------------------ ingest

    def ingest(self, batch: IngestBatch) -> IngestAck:
        accepted, duplicates = [], []
        for record in batch.records:
            if record.id in self.records:
                duplicates.append(record.id)
            else:
                self.records[record.id] = record
                accepted.append(record.id)
        return IngestAck(accepted=accepted, duplicates=duplicates, chain=self.chain(), last_seq=self.last_seq())

    def last_seq(self) -> int:
        seqs = {r.seq for r in self.records.values()}
        n = 0
        while n + 1 in seqs:
            n += 1
        return n

    def chain(self) -> ChainStatus:
        by_seq = {r.seq: r for r in self.records.values()}
        for seq, record in by_seq.items():
            if not verify_record(record):
                return ChainStatus.BREAK
            before = by_seq.get(seq - 1)
            if before is not None and before.hash != record.prev_hash:
                return ChainStatus.BREAK
        return ChainStatus.OK if len(by_seq) == self.last_seq() else ChainStatus.GAP

    # -------------------------------------------------------------------------------------------- http

    def _refuse(self, request: web.Request) -> web.Response | None:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            body = ErrorBody(code="auth.invalid_token", message="missing or unknown edge token")
            return web.json_response(text=body.model_dump_json(), status=401)
        if self.fail_next > 0:
            self.fail_next -= 1
            body = ErrorBody(code="unavailable", message="central is restarting")
            return web.json_response(text=body.model_dump_json(), status=503)
        return None

    async def _ingest(self, request: web.Request) -> web.Response:
        refused = self._refuse(request)
        if refused is not None:
            return refused
        batch = IngestBatch.model_validate_json(await request.read())
        self.batches += 1
        ack = self.ingest(batch)
        if self.lose_answers > 0:
            self.lose_answers -= 1
            return web.Response(status=500, text="connection reset after commit")
        return web.json_response(text=ack.model_dump_json())

    async def _sync(self, request: web.Request) -> web.Response:
        refused = self._refuse(request)
        if refused is not None:
            return refused
        page = self.page(int(request.query.get("since", "0")), int(request.query.get("limit", "1000")))
        return web.json_response(text=page.model_dump_json())

    async def start(self) -> str:
        if not self.port:
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                self.port = probe.getsockname()[1]
        app = web.Application()
        app.router.add_post(INGEST_PATH, self._ingest)
        app.router.add_get(SYNC_PATH, self._sync)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"
