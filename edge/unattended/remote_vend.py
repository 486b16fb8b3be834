"""Remote vend, the edge's side: take the openings the office asked for at central and carry them out through the
lane as a manual open, whose record (who at the office, when, why, the evidence image, the vend's id) is committed
with the opening; then report back. A vend already in the journal (by its id) is only reported again."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import httpx

from edge.lanes.actions import Draft
from edge.lanes.exit import BoothManualOpen
from edge.lanes.lane import Phase
from edge.runner import LaneRunner
from edge.store.journal import Journal
from parking.ids import new_id
from parking.wire import RecordKind

_LOGGER = logging.getLogger(__name__)

PENDING_PATH = "/api/v1/edges/remote-vends"
DONE_PATH = "/api/v1/edges/remote-vends/done"


class RemoteVends:
    def __init__(self, client: httpx.AsyncClient, journal: Journal, runners: Mapping[str, LaneRunner],
                 clock: Callable[[], datetime]) -> None:  # fmt: skip
        self.client = client
        self.journal = journal
        self.runners = runners
        self.clock = clock

    def _journaled(self, vend_id: int) -> str | None:
        rows = self.journal.rows(
            "SELECT id FROM manual_actions WHERE json_extract(payload, '$.remote_vend') = ? LIMIT 1", (vend_id,)
        )
        return str(rows[0][0]) if rows else None

    async def step(self) -> None:
        """Carry out every pending vend; raises httpx.HTTPError or ValueError when central cannot be reached."""
        answer = await self.client.get(PENDING_PATH)
        if answer.status_code != 200:
            raise ValueError(f"remote vends: HTTP {answer.status_code}")
        for vend in answer.json().get("vends", []):
            outcome, record = await self.vend(vend)
            done = await self.client.post(DONE_PATH, json={"vend": vend["id"], "outcome": outcome, "record": record})
            if done.status_code != 200:
                raise ValueError(f"remote vend {vend['id']}: HTTP {done.status_code}")

    async def vend(self, vend: Mapping[str, Any]) -> tuple[str, str | None]:
        if (record := self._journaled(int(vend["id"]))) is not None:
            return "opened", record
        runner = self.runners.get(str(vend["lane"]))
        if runner is None:
            _LOGGER.warning("remote vend %s: no lane %s here", vend["id"], vend["lane"])
            return "lane_unknown", None
        lane = runner.lane
        if lane.phase is Phase.PASSING:
            return "lane_busy", None  # a vehicle is going through: the operator asks again
        now = self.clock()
        session = getattr(lane, "session", None)
        payload: dict[str, Any] = {
            "action": "manual_open", "operator": f"office:{vend['requested_by']}", "reason": vend["reason"],
            "evidence": vend.get("evidence") or lane._evidence_image(), "remote_vend": vend["id"],
            "requested_at": vend["requested_at"], "session": session.id if session is not None else None,
        }  # fmt: skip
        draft = Draft(new_id(int(now.timestamp() * 1000)), RecordKind.MANUAL_ACTION, lane.id, now, payload)
        await runner.feed(BoothManualOpen(operator=payload["operator"], reason=vend["reason"], record=draft))
        record = self._journaled(int(vend["id"]))
        _LOGGER.info("remote vend %s at %s by %s: %s", vend["id"], lane.id, vend["requested_by"], record)
        return ("opened", record) if record is not None else ("lane_busy", None)
