"""A process that drives an entry and an exit lane into a journal as fast as it can, until it is killed.

Used by the crash test: ``python -m tests.edge.journal_crash_child JOURNAL`` then SIGKILL at a random instant.
"""

from __future__ import annotations

import random
import sys
from datetime import timedelta

from edge.lanes.actions import Commit, LaneAction
from edge.lanes.events import TakePayment
from edge.lanes.exit import ExitLane
from edge.lanes.lane import Lane
from edge.store.journal import Journal
from tests.edge.kit import Clock, arrive, context, cross, entry_lane, exit_lane


def main(path: str) -> None:
    journal = Journal(path, "lakeview", synchronous="NORMAL")
    ctx = context(capacity={"small": 100000})
    for session in journal.open_sessions():
        ctx.park.open(session)
    entry, out, clock = entry_lane(ctx), exit_lane(ctx), Clock()
    rng = random.Random()
    n = 0
    print("ready", flush=True)
    while True:
        n += 1
        lane: Lane = entry if rng.random() < 0.6 or not ctx.park.sessions else out
        plate = f"粤B{n % 100000:05d}" if lane is entry else rng.choice(list(ctx.park.sessions.values())).plate
        clock.advance(timedelta(minutes=rng.randint(1, 20)).total_seconds())
        for event in arrive(plate):
            run(journal, lane.handle(event, clock.advance(0.2)))
        if isinstance(lane, ExitLane) and lane.due is not None:
            pay = TakePayment(operator="c-1", reason="cash", amount=lane.due.quote.total)
            run(journal, lane.handle(pay, clock.advance(1)))
        for event in cross():
            run(journal, lane.handle(event, clock.advance(0.2)))


def run(journal: Journal, actions: list[LaneAction]) -> None:
    for action in actions:
        if isinstance(action, Commit):
            journal.commit(action.drafts)


if __name__ == "__main__":
    main(sys.argv[1])
