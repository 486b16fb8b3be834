"""The lane state table in :mod:`edge.lanes` is the code's: every row is driven through the real lane machines."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

import edge.lanes
from edge.lanes.events import (
    BarrierCommandFailed,
    CardDispensed,
    DispenserFailed,
    LaneEvent,
    Loop,
    LoopChanged,
    ManualOpen,
    PlateSeen,
    Refuse,
    TakePayment,
    Tick,
    WaiveFee,
)
from edge.lanes.exit import ExitLane
from edge.lanes.lane import Lane, Phase
from tests.edge.kit import Clock, a_pass, arrive, context, cross, entry_lane, exit_lane, feed

PASS_PLATE = "粤B3R7K2"
TEMPORARY = "粤B12345"


@dataclass(frozen=True)
class Row:
    lane: str
    phase: str
    event: str
    next_phase: str


def table() -> list[Row]:
    """The rows of the table in the package docstring (its header and rule left out)."""
    rows = []
    for line in (edge.lanes.__doc__ or "").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0] in ("any", "entry", "exit"):
            rows.append(Row(*cells[:4]))
    return rows


ROWS = table()


def test_the_table_is_there_and_names_only_real_phases() -> None:
    assert len(ROWS) >= 20
    phases = {p.value for p in Phase} | {"crossing"}
    assert {r.phase for r in ROWS} <= phases
    assert {r.next_phase for r in ROWS} <= phases


class Run:
    """One lane of one row, with a temporary vehicle inside (2 h ago) and a valid pass in the lists."""

    def __init__(self, kind: str, *, full: bool = False, dispenser: bool = False) -> None:
        self.ctx = context(passes=[a_pass(PASS_PLATE)], capacity={"small": 1, "large": 0} if full else None)
        self.clock = Clock()
        feed(entry_lane(self.ctx), self.clock, *arrive(TEMPORARY), *cross())
        self.clock.advance(2 * 3600)
        self.lane: Lane = (
            exit_lane(self.ctx) if kind == "exit" else entry_lane(self.ctx, ticketless=False, has_dispenser=dispenser)
        )

    def __call__(self, *events: LaneEvent) -> None:
        feed(self.lane, self.clock, *events)

    def expire_window(self) -> None:
        self.clock.advance(5)
        self(Tick())


def to_phase(run: Run, phase: str) -> None:
    """Bring the lane to ``phase`` the way vehicles and operators do."""
    if phase == "idle":
        return
    run(LoopChanged(Loop.ARMING, True))
    if phase == "collecting":
        return
    if phase in ("passing", "crossing"):
        run(PlateSeen(PASS_PLATE, 0.95))
        if phase == "crossing":  # the vehicle moves on from the arming loop to the safety loop
            run(LoopChanged(Loop.SAFETY, True), LoopChanged(Loop.ARMING, False))
        return
    if phase == "dispensing":
        run.expire_window()
        return
    if isinstance(run.lane, ExitLane):
        run(PlateSeen(TEMPORARY, 0.95))  # a fee is due: the booth is called
    else:
        run.expire_window()  # no read, no dispenser: the booth is called
    if phase == "denied":
        run(Refuse("c01", "state table"))


def event_for(run: Run, name: str) -> Callable[[], None]:
    """The row's event as the lane hears it."""
    operator = "c01"

    def pay() -> None:
        assert isinstance(run.lane, ExitLane)
        assert run.lane.due is not None
        run(TakePayment(operator, "cash", amount=run.lane.due.quote.total))

    def backed_out() -> None:
        run(LoopChanged(Loop.ARMING, False))
        run.clock.advance(1)
        run(Tick())

    events: dict[str, Callable[[], None]] = {
        "arming occupied": lambda: run(LoopChanged(Loop.ARMING, True)),
        "arming clear": lambda: run(LoopChanged(Loop.ARMING, False)),
        "read of a valid pass": lambda: run(PlateSeen(PASS_PLATE, 0.95)),
        "read, car park full": lambda: run(PlateSeen("粤B99999", 0.95)),
        "read of a vehicle with a fee": lambda: run(PlateSeen(TEMPORARY, 0.95)),
        "read window expires": run.expire_window,
        "window expires, dispenser": run.expire_window,
        "card dispensed": lambda: run(CardDispensed("T-0001")),
        "dispenser failed": lambda: run(DispenserFailed("jammed")),
        "payment of the fee": pay,
        "waiver": lambda: run(WaiveFee(operator, "state table", category="special")),
        "manual open": lambda: run(ManualOpen(operator, "state table")),
        "refuse": lambda: run(Refuse(operator, "state table")),
        "safety occupied": lambda: run(LoopChanged(Loop.SAFETY, True)),
        "safety clear": lambda: run(LoopChanged(Loop.SAFETY, False)),
        "backed out, settle elapsed": backed_out,
        "barrier open failed": lambda: run(BarrierCommandFailed("open", "no answer")),
    }
    return events[name]


def phase_of(lane: Lane) -> str:
    if lane.phase is Phase.PASSING and lane.passage is not None and lane.safety:
        return "crossing"
    return lane.phase.value


CASES = [(kind, row) for row in ROWS for kind in (("entry", "exit") if row.lane == "any" else (row.lane,))]


@pytest.mark.parametrize(("kind", "row"), CASES, ids=[f"{k}: {r.phase} + {r.event}" for k, r in CASES])
def test_each_row_of_the_table(kind: str, row: Row) -> None:
    run = Run(kind, full=row.event == "read, car park full", dispenser="dispens" in row.event + row.phase)
    to_phase(run, row.phase)
    assert phase_of(run.lane) == row.phase, "the row's starting phase was not reached"
    event_for(run, row.event)()
    assert phase_of(run.lane) == row.next_phase
