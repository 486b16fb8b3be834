"""The edge's two conversations with central, both as the client, both in the background:

* :class:`Outbox` sends journal records central has not acknowledged, oldest first, in batches to
  ``INGEST_PATH``; ids central stored or already had are marked sent, refused ones are marked with why. Unsent
  records simply stay in the journal, so an outage or a restart only delays them.
* :class:`ListSync` pulls ``SYNC_PATH`` from the version it holds, applies each page in one transaction, and
  hands the lanes a fresh :class:`~edge.lanes.directory.Directory`.

Neither is ever awaited by a lane: central down means delayed reports, never a stuck car.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
from pydantic import ValidationError

from drivers.health import Backoff
from edge.lanes.directory import Directory
from edge.store.evidence_upload import EvidenceUploader, ImageUploadError
from edge.store.journal import Journal
from edge.store.lists import ListStore
from parking.log import redact_http_trace
from parking.tls import ClientTls
from parking.wire import INGEST_PATH, SYNC_PATH, IngestAck, IngestBatch, SyncPage

_LOGGER = logging.getLogger(__name__)


class CentralError(Exception):
    """Central could not be reached or answered something other than the contract."""


@dataclass(frozen=True, slots=True)
class CentralLink:
    """How the edge reaches central: its address, the edge's token and, for ``https://``, the TLS files (central's
    CA, the edge's client certificate); without ``tls`` an ``https://`` address is checked with the system's CAs."""

    url: str
    edge_id: str
    token: str | None = field(default=None, repr=False)  # never in a log line, not even in a repr
    timeout_s: float = 10.0
    tls: ClientTls | None = None

    def client(self) -> httpx.AsyncClient:
        """One client for every conversation; raises :class:`~parking.tls.TlsSettingError` for unusable TLS files."""
        redact_http_trace()  # the token is a header: httpcore's DEBUG trace must not print it
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        verify: ssl.SSLContext | bool = self.tls.context() if self.tls is not None else True
        return httpx.AsyncClient(base_url=self.url.rstrip("/"), headers=headers, timeout=self.timeout_s,
                                 verify=verify)  # fmt: skip


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await stop.wait()


async def _sleep_or_wake(wake: asyncio.Event, stop: asyncio.Event, seconds: float) -> None:
    waits = [asyncio.ensure_future(wake.wait()), asyncio.ensure_future(stop.wait())]
    try:
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()
    wake.clear()


class Outbox:
    def __init__(
        self,
        journal: Journal,
        client: httpx.AsyncClient,
        edge_id: str,
        *,
        batch_size: int = 500,
        idle_interval_s: float = 2.0,
        backoff: Backoff | None = None,
        on_backlog: Callable[[int], None] | None = None,
        images: EvidenceUploader | None = None,
    ) -> None:
        self.journal = journal
        self.images = images  # sends the evidence pictures of the records once they are acknowledged
        self.client = client
        self.edge_id = edge_id
        self.batch_size = batch_size
        self.idle_interval_s = idle_interval_s
        # Exponential, capped at a minute, with a quarter of jitter so the edges of an operator do not all come
        # back at the same instant after an outage of central; reset by the first batch central takes.
        self.backoff = backoff or Backoff(initial=0.5, maximum=60.0, jitter=0.25)
        self.on_backlog = on_backlog
        self.failures = 0
        self.last_error: str | None = None
        self.failing_since: float | None = None  # time.monotonic() of the first failure of the current outage
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """New records were committed: send soon rather than at the next idle interval (never sooner than the
        backoff allows while central is failing)."""
        self._wake.set()

    async def send_once(self) -> int:
        """Send one batch; return how many records central settled (stored, duplicate or refused)."""
        records = await asyncio.to_thread(self.journal.unsent, self.batch_size)
        if not records:
            return 0
        batch = IngestBatch(edge_id=self.edge_id, records=records)
        try:
            response = await self.client.post(
                INGEST_PATH, content=batch.model_dump_json(), headers={"Content-Type": "application/json"}
            )
        except httpx.HTTPError as err:
            raise CentralError(f"ingest: {type(err).__name__}: {err}") from err
        if response.status_code != 200:
            raise CentralError(f"ingest: HTTP {response.status_code}: {response.text[:200]}")
        try:
            ack = IngestAck.model_validate_json(response.content)
        except ValidationError as err:
            raise CentralError(f"ingest: answer is not an IngestAck: {err}") from err
        settled = [*ack.accepted, *ack.duplicates]
        await asyncio.to_thread(self.journal.mark_sent, settled, ack.rejected)
        for rejection in ack.rejected:
            _LOGGER.error("central refused record %s: %s %s", rejection.id, rejection.code, rejection.message)
        for held in ack.quarantined:
            _LOGGER.error("central quarantined record %s (kept as sent, not counted): %s %s", held.id, held.code,
                          held.message)  # fmt: skip
        if ack.chain.value == "break":
            _LOGGER.error("central reports a chain break: %s", ack.chain_detail)
        return len(settled) + len(ack.rejected)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                settled = await self.send_once()
                if self.images is not None and settled < self.batch_size:
                    await self.images.upload_once()
                if self.failures:
                    _LOGGER.info("central reachable again; outbox sending")
                self.failures, self.last_error, self.failing_since = 0, None, None
                self.backoff.reset()
                delay = 0.0 if settled >= self.batch_size else self.idle_interval_s
            except (CentralError, ImageUploadError) as err:
                self.failures += 1
                self.failing_since = self.failing_since or time.monotonic()
                if self.failures == 1:
                    _LOGGER.warning("outbox: %s; records stay in the journal and are retried", err)
                self.last_error = str(err)
                delay = self.backoff.next_delay()
            except Exception:
                self.failures += 1
                _LOGGER.exception("outbox: unexpected error")
                delay = self.backoff.next_delay()
            if self.on_backlog is not None:
                self.on_backlog(await asyncio.to_thread(self.journal.backlog))
            if self.failures:
                # Backing off: new records (or the daemon's ticker) must not cut the wait short, or a failing
                # central would be asked again at every tick.
                await _sleep_or_stop(stop, delay)
            elif delay:
                await _sleep_or_wake(self._wake, stop, delay)


class ListSync:
    def __init__(
        self,
        store: ListStore,
        client: httpx.AsyncClient,
        car_park: str,
        on_update: Callable[[Directory], None],
        *,
        page_limit: int = 1000,
        interval_s: float = 30.0,
        backoff: Backoff | None = None,
    ) -> None:
        self.store = store
        self.client = client
        self.car_park = car_park
        self.on_update = on_update
        self.page_limit = page_limit
        self.interval_s = interval_s
        self.backoff = backoff or Backoff(initial=1.0, maximum=120.0)
        self.failures = 0
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def _page(self, since: int) -> SyncPage:
        try:
            response = await self.client.get(SYNC_PATH, params={"since": since, "limit": self.page_limit})
        except httpx.HTTPError as err:
            raise CentralError(f"sync: {type(err).__name__}: {err}") from err
        if response.status_code != 200:
            raise CentralError(f"sync: HTTP {response.status_code}: {response.text[:200]}")
        try:
            return SyncPage.model_validate_json(response.content)
        except ValidationError as err:
            raise CentralError(f"sync: answer is not a SyncPage: {err}") from err

    async def pull_once(self) -> int:
        """Pull until central has no more; return the number of pages applied. Lanes get new lists at the end."""
        since = await asyncio.to_thread(lambda: self.store.version)
        pages, changed, in_snapshot = 0, False, False
        while True:
            page = await self._page(since)
            replace = page.full and not in_snapshot
            await asyncio.to_thread(self.store.apply, page, replace=replace)
            pages += 1
            changed = changed or page.full or bool(
                page.passes or page.cards or page.vehicles or page.tariffs or page.deleted
            )  # fmt: skip
            in_snapshot = page.full and page.more
            if not page.more or (page.version <= since and not page.full):
                break
            since = page.version
        if changed:
            directory = await asyncio.to_thread(self.store.directory, self.car_park)
            self.on_update(directory)
            _LOGGER.info("lists updated to version %s: %s", directory.version, directory.sizes)
        return pages

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.pull_once()
                self.failures = 0
                self.backoff.reset()
                delay = self.interval_s
            except CentralError as err:
                self.failures += 1
                if self.failures == 1:
                    _LOGGER.warning("list sync: %s; lanes keep deciding with the lists they have", err)
                delay = self.backoff.next_delay()
            except Exception:
                _LOGGER.exception("list sync: unexpected error")
                delay = self.backoff.next_delay()
            await _sleep_or_wake(self._wake, stop, delay)
