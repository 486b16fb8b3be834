"""Scan-to-pay at unattended exits, the edge's side: tell central which vehicle waits at which unattended exit and
what it owes (``POST /api/v1/edges/exit-quotes``), take the payments central settled (``GET /api/v1/edges/payments``)
into the journal — durability before motion — and acknowledge them.

A settlement for the vehicle still waiting at its lane goes to that lane as a payment (method ``epay``, with the
provider, order and reference), which commits it with the opening; one for a vehicle elsewhere inside is a payment
ahead (:meth:`EdgeDaemon.prepay`), so the vehicle leaves by itself within the tariff's grace; one whose session is
gone is still journaled (``epay_unapplied``) for the office to refund, never dropped. A settlement already in the
journal (by its order id) is only acknowledged again. With central unreachable the waiting lane's display says so
and the booth is called; the lanes never wait for central.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

import httpx

from edge.lanes.actions import Alert, Draft
from edge.lanes.exit import BoothPayment, ExitLane
from edge.lanes.lane import Phase
from edge.lanes.payments import PaymentRefusedError
from edge.runner import LaneRunner
from edge.store.journal import Journal
from edge.unattended.remote_vend import RemoteVends
from parking.ids import new_id
from parking.wire import RecordKind

_LOGGER = logging.getLogger(__name__)

QUOTES_PATH = "/api/v1/edges/exit-quotes"
SETTLEMENTS_PATH = "/api/v1/edges/payments"
ACK_PATH = "/api/v1/edges/payments/ack"
OFFLINE_LINES = ("扫码支付暂不可用", "请联系岗亭")  # scan-to-pay unavailable, call the booth

Prepay = Callable[..., Awaitable[Any]]
Commit = Callable[[list[Draft]], Awaitable[Any]]


def waits_at(runner: LaneRunner, session_id: str, amount: int) -> bool:
    """Whether the vehicle of ``session_id`` waits at this exit lane owing exactly ``amount``."""
    lane = runner.lane
    return (isinstance(lane, ExitLane) and lane.phase is Phase.WAITING and lane.due is not None
            and lane.due.session is not None and lane.due.session.id == session_id
            and lane.due.quote.total == amount)  # fmt: skip


async def pay_at_lane(
    runner: LaneRunner, now: datetime, *, operator: str, reason: str, amount: int, extra: Mapping[str, Any]
) -> None:
    """Pay what the waiting vehicle owes at its lane: the transaction (``extra`` says by what: ``method``, provider
    or pay station, references) is committed with the opening, or not at all."""
    lane = runner.lane
    assert isinstance(lane, ExitLane)
    assert lane.due is not None
    assert lane.due.session is not None
    session = lane.due.session
    payload = {"transaction_kind": "payment", "session": session.id, "plate": session.plate, "reason": reason,
               **lane.due.quote.to_payload(), **extra}  # fmt: skip
    draft = Draft(new_id(int(now.timestamp() * 1000)), RecordKind.TRANSACTION, lane.id, now, payload)
    await runner.feed(BoothPayment(operator=operator, reason=reason, amount=amount, method=str(extra["method"]),
                                   record=draft))  # fmt: skip


class ExitPayments:
    """Quotes out, settlements in, for the unattended exit lanes of one edge."""

    def __init__(
        self, client: httpx.AsyncClient, journal: Journal, runners: Mapping[str, LaneRunner], *, prepay: Prepay,
        commit: Commit, clock: Callable[[], datetime], alert: Callable[[str, Alert], None] | None = None,
        poll_s: float = 1.0, vends: RemoteVends | None = None,
    ) -> None:  # fmt: skip
        self.client = client
        self.journal = journal
        self.runners = runners
        self.prepay = prepay
        self.commit = commit
        self.clock = clock
        self.alert = alert
        self.poll_s = poll_s
        self.vends = vends  # the office's remote vends ride on the same poll
        self.since = 0
        self.central_ok = True
        self._posted: dict[str, tuple[str, int] | None] = {}  # lane -> (session, total) central knows of

    def _unattended_exits(self) -> list[tuple[str, ExitLane]]:
        return [(lane_id, runner.lane) for lane_id, runner in self.runners.items()
                if isinstance(runner.lane, ExitLane) and not runner.lane.settings.attended]  # fmt: skip

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop``: report waiting vehicles and take settlements every ``poll_s``."""
        while not stop.is_set():
            await self.step()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_s):
                    await stop.wait()

    async def step(self) -> None:
        """One round: quotes first (a driver scanning needs them), then settlements."""
        try:
            await self.report_quotes()
            await self.take_settlements()
            if self.vends is not None:
                await self.vends.step()
        except (httpx.HTTPError, ValueError) as err:
            await self._offline(f"{type(err).__name__}: {err}")
            return
        self.central_ok = True

    async def _offline(self, why: str) -> None:
        if self.central_ok:
            _LOGGER.warning("scan-to-pay: central unreachable (%s); waiting lanes call the booth", why)
        self.central_ok = False
        for lane_id, lane in self._unattended_exits():
            if lane.phase is Phase.WAITING and lane.due is not None and lane.due.quote.total > 0:
                with contextlib.suppress(Exception):
                    await self.runners[lane_id].port.show(OFFLINE_LINES)
                if self._posted.get(lane_id) != ("offline", 0) and self.alert is not None:
                    self.alert(lane_id, Alert("call_booth", f"{lane_id}: scan-to-pay unavailable (central)"))
                self._posted[lane_id] = ("offline", 0)  # report again once central is back

    async def report_quotes(self) -> None:
        """Post each unattended exit's waiting vehicle and its fee when it changed; withdraw when it left."""
        for lane_id, lane in self._unattended_exits():
            due = lane.due if lane.phase is Phase.WAITING else None
            session = due.session if due is not None else None
            current = (session.id, due.quote.total) if due is not None and session is not None else None
            if current is not None and due is not None and due.quote.total <= 0:
                current = None
            if self._posted.get(lane_id, None) == current:
                continue
            now = self.clock()
            body: dict[str, Any] = {"lane": lane_id, "quoted_at": now.isoformat()}
            if current is None or due is None or session is None:
                body["withdrawn"] = True
            else:
                quote = due.quote
                body |= {
                    "session": session.id, "plate": session.plate or "", "entry_at": session.entry_at.isoformat(),
                    "tariff_id": quote.tariff_id, "tariff_hash": quote.tariff_hash, "lines": quote.lines,
                    "paid_before": session.paid, "total": quote.total, "currency": quote.currency,
                }  # fmt: skip
            answer = await self.client.post(QUOTES_PATH, json=body)
            if answer.status_code != 200:
                raise ValueError(f"exit quote for {lane_id}: HTTP {answer.status_code} {answer.text[:200]}")
            self._posted[lane_id] = current
            if current is not None:
                await self.runners[lane_id].port.show((session.plate or "" if session else "", "请扫码缴费"))

    async def take_settlements(self) -> None:
        """Commit every settlement central offers, then acknowledge those in the journal."""
        answer = await self.client.get(SETTLEMENTS_PATH, params={"since": self.since})
        if answer.status_code != 200:
            raise ValueError(f"settlements: HTTP {answer.status_code} {answer.text[:200]}")
        acks = []
        for settlement in answer.json().get("settlements", []):
            record = await self.settle(settlement)
            if record is not None:
                acks.append({"settlement": int(settlement["settlement"]), "record": record})
                self.since = max(self.since, int(settlement["settlement"]))
        if acks:
            answer = await self.client.post(ACK_PATH, json={"acks": acks})
            if answer.status_code != 200:
                raise ValueError(f"acknowledging settlements: HTTP {answer.status_code}")

    def _journaled(self, order_id: str) -> str | None:
        rows = self.journal.rows(
            "SELECT id FROM transactions WHERE json_extract(payload, '$.order_id') = ? ORDER BY at LIMIT 1",
            (order_id,),
        )
        return str(rows[0][0]) if rows else None

    async def settle(self, settlement: Mapping[str, Any]) -> str | None:
        """Commit one settlement (once, by its order id); answers the journal record that holds it."""
        order_id = str(settlement["order_id"])
        if (done := self._journaled(order_id)) is not None:
            return done
        now = self.clock()
        amount = int(settlement["amount"])
        epay = {"method": "epay", "provider": settlement["provider"], "order_id": order_id, "tendered": amount,
                "reference": settlement["reference"], "settlement": settlement["settlement"]}  # fmt: skip
        runner = self.runners.get(str(settlement.get("lane") or ""))
        if runner is not None and waits_at(runner, str(settlement["session"]), amount):
            await pay_at_lane(runner, now, operator=f"epay:{settlement['provider']}",
                              reason=f"paid by {settlement['provider']}", amount=amount, extra=epay)  # fmt: skip
            if (done := self._journaled(order_id)) is not None:
                _LOGGER.info("lane %s: %s paid by %s, released", runner.lane.id, settlement["plate"],
                             settlement["provider"])  # fmt: skip
                return done
        try:
            quoted_at = datetime.fromisoformat(str(settlement.get("quoted_at") or now.isoformat()))
            await self.prepay(str(settlement["session"]), amount, method="epay", station=str(settlement["provider"]),
                              extra=epay, at=min(quoted_at, now))  # fmt: skip
        except PaymentRefusedError as refused:
            # The session is gone or the fee moved on: the money is real, so it is journaled for a refund.
            _LOGGER.warning("settlement %s for %s not applied: %s", order_id, settlement["session"], refused)
            payload = {"transaction_kind": "epay_unapplied", "session": settlement["session"],
                       "plate": settlement["plate"], "reason": str(refused), "amount": amount,
                       "currency": settlement["currency"], "tariff_hash": settlement.get("tariff_hash"),
                       "lines": settlement.get("lines", []), **epay}  # fmt: skip
            await self.commit([Draft(new_id(int(now.timestamp() * 1000)), RecordKind.TRANSACTION, None, now, payload)])
            if self.alert is not None:
                self.alert("", Alert("epay_unapplied", f"e-payment {order_id} for {settlement['plate']}: {refused}"))
        return self._journaled(order_id)
