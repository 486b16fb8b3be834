"""The demo's toll collector at the booth: signs in at the edge's console, opens a shift, takes visitors' fees at the
exit lanes and finds the entry of a vehicle whose plate was not read, through the console's HTTP API (the same calls
the booth page makes)."""

from __future__ import annotations

import logging

import httpx

from parking.money import MoneyError, format_amount, parse_amount
from simulators.traffic import Attended, Decision, Visit

_LOGGER = logging.getLogger(__name__)
OPERATOR, OPERATOR_PIN = "c01", "2468"
SHIFT_FLOAT = {"10000": 2, "5000": 2, "2000": 5, "1000": 5, "500": 6, "100": 15, "50": 8, "10": 10}  # 500.00
NOTES = (1000, 2000, 5000, 10000)
CARDS_STOCK = 100  # the booth's stock of temporary cards; the demo's collector hands none out


class BoothError(Exception):
    """The console refused the collector's sign-in or shift."""


class ConsoleOperator:
    """The toll collector at the booth, through the console's HTTP API (the same calls the booth page makes)."""

    def __init__(self, base_url: str, operator: str = OPERATOR, pin: str = OPERATOR_PIN) -> None:
        self.http = httpx.AsyncClient(base_url=base_url + "/console/api", timeout=10)
        self.operator, self.pin = operator, pin
        self.payments = 0
        self.lost_cards_charged: set[int] = set()  # visits whose driver lost the temporary card (charged honestly)

    async def sign_in_and_open_shift(self, *, acknowledge_handover: bool = False) -> None:
        signed = await self.http.post("/sign-in", json={"operator": self.operator, "pin": self.pin})
        if signed.status_code != 200:
            raise BoothError(f"the console refused collector {self.operator}: {signed.status_code} {signed.text[:200]}")
        body = {"float": SHIFT_FLOAT, "cards_stock": CARDS_STOCK, "acknowledge": acknowledge_handover}
        opened = await self.http.post("/shift/open", json=body)
        if opened.status_code != 200:
            raise BoothError(f"the console did not open the shift: {opened.status_code} {opened.text[:200]}")

    async def attend(self, visit: Visit, decision: Decision) -> Attended | None:
        lane = decision.lane
        try:
            if visit.lost_card and decision.reason.endswith(" due") and visit.number not in self.lost_cards_charged:
                return await self._lost_card(visit, lane)
            if decision.reason.endswith(" due"):
                return await self._pay(lane, decision.reason)
            if decision.reason.startswith("no plate read") and lane.startswith("out"):
                return await self._find_entry(lane, visit.plate)
            reason = f"collector checked {visit.plate} at the lane ({decision.reason})"
            answer = await self.http.post(f"/lanes/{lane}/manual-open", json={"reason": reason})
            return Attended("manual open, with the reason recorded") if answer.status_code == 200 else None
        except httpx.HTTPError as err:
            _LOGGER.warning("console: %s", err)
            return None

    async def _pay(self, lane: str, reason: str) -> Attended | None:
        try:
            due = parse_amount(reason.split()[0], "CNY")
        except MoneyError:
            return None
        tendered = next((note for note in NOTES if note >= due), due)
        pay = {"method": "cash", "tendered": format_amount(tendered, "CNY")}
        answer = await self.http.post(f"/lanes/{lane}/pay", json=pay)
        if answer.status_code != 200:
            return Attended(f"payment refused: {answer.json().get('error', {}).get('message', answer.text)[:120]}")
        paid = answer.json()
        self.payments += 1
        note = (f"cash {format_amount(paid['amount'], 'CNY')} paid, tendered {format_amount(paid['tendered'], 'CNY')}, "
                f"change {format_amount(paid['change'], 'CNY')}, receipt {paid['receipt_no']}")  # fmt: skip
        return Attended(note, int(paid["amount"]))

    async def _lost_card(self, visit: Visit, lane: str) -> Attended | None:
        """The driver lost the temporary card: the collector has the lane quote the tariff's lost-card fee (it is
        journaled as the collector's lost-card action), which the driver then pays like any fee."""
        answer = await self.http.post(f"/lanes/{lane}/lost-card", json={})
        if answer.status_code != 200:
            _LOGGER.warning("console: the lost-card fee for %s was refused: %s", visit.plate, answer.text[:200])
            return None
        self.lost_cards_charged.add(visit.number)
        return Attended("driver lost the temporary card: the lost-card fee quoted")

    async def drop_cash(self, bag: str, keep: int = 50000) -> int:
        """Seal the drawer's cash above ``keep`` (the float) into the numbered ``bag`` and drop it into the safe (投包),
        counted in the largest notes first; answers the amount dropped (0: nothing to drop)."""
        state = await self.http.get("/state")
        shift = state.json().get("shift") if state.status_code == 200 else None
        if not shift or shift.get("totals") is None:
            return 0
        amount = int(shift["totals"]["expected_cash"]["minor"]) - keep
        counts, left = {}, amount
        for minor in sorted((int(d["minor"]) for d in shift["denominations"]), reverse=True):
            if minor >= 1000 and left >= minor:  # notes of 10.00 and up go in the bag; coins stay for change
                counts[str(minor)], left = divmod(left, minor)
        if not counts:
            return 0
        dropped = await self.http.post("/shift/drop", json={"bag": bag, "counts": counts})
        if dropped.status_code != 200:
            raise BoothError(
                f"the console refused the cash drop into {bag}: {dropped.status_code} {dropped.text[:200]}"
            )
        return amount - left

    async def report_fault(self, lane: str, device: str, note: str) -> str | None:
        """Report a device fault at the lane (the collector's duty: 'report its faults at once'); answers the record."""
        answer = await self.http.post(f"/lanes/{lane}/report-fault", json={"device": device, "note": note})
        if answer.status_code != 200:
            _LOGGER.warning("console: the fault report at %s was refused: %s", lane, answer.text[:200])
            return None
        return str(answer.json().get("record", ""))

    async def _find_entry(self, lane: str, plate: str) -> Attended | None:
        found = await self.http.get("/search", params={"plate": plate[1:]})
        sessions = [s for s in found.json().get("sessions", []) if s.get("plate") == plate] if found.is_success else []
        if not sessions:  # no entry on record (it came in by hand while a camera was down): the tariff's rule
            answer = await self.http.post(f"/lanes/{lane}/lost-card", json={})
            return Attended(f"no entry on record for {plate}: the lost-card fee quoted") if answer.is_success else None
        attached = await self.http.post(f"/lanes/{lane}/attach", json={"session": sessions[0]["session"]})
        if attached.status_code != 200:
            return None
        return Attended(f"searched {plate}, attached its entry of {sessions[0]['entry_at']}")

    async def close_shift(self, note: str = "演示结束：现金已点清，交班") -> tuple[str, int]:
        """End of the demo: count the drawer (what the console expects, in the largest notes first), hand over the
        cards and close the shift; answers the shift's id and the cash counted. Its report goes to central, where
        it waits in the supervisor's reconciliation queue."""
        state = await self.http.get("/state")
        if state.status_code != 200:
            raise BoothError(f"the console did not answer its state: {state.status_code} {state.text[:200]}")
        shift = state.json()["shift"]
        if shift["totals"] is None:
            raise BoothError("the booth has no open shift to close")
        expected = int(shift["totals"]["expected_cash"]["minor"])
        counts, left = {}, expected
        for minor in sorted((int(d["minor"]) for d in shift["denominations"]), reverse=True):
            if left >= minor:
                counts[str(minor)], left = divmod(left, minor)
        body = {"counts": counts or {"100": 0}, "cards_on_hand": CARDS_STOCK, "cards_collected": 0,
                "note": note}  # fmt: skip
        closed = await self.http.post("/shift/close", json=body)
        if closed.status_code != 200:
            raise BoothError(f"the console did not close the shift: {closed.status_code} {closed.text[:200]}")
        return str(shift["shift"]["id"]), expected - left

    async def sign_out(self) -> None:
        await self.http.post("/sign-out", json={})

    async def close(self) -> None:
        await self.http.aclose()
