"""What every fault run checks at its end (issue 18), whatever the fault: the journal's chain verifies, every opening
of a barrier has its journal record (the command, tied to a stored record), and each vehicle has exactly one
session."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from edge.store.journal import Journal
from simulators.io_module import IoModuleSimulator


@dataclass(frozen=True, slots=True)
class Tally:
    """The counted figures for the run's summary row."""

    opens: int  # barrier openings the I/O module saw
    sessions: list[str]  # the plates of the lane's sessions, in entry order
    lost: int  # expected plates with no session
    duplicated: int  # sessions beyond the first for one plate
    unexpected: list[str]  # sessions for a plate that was not expected (a late read opening for the wrong car)


def opened(sim: IoModuleSimulator) -> int:
    """How many times the daemon pulsed the barrier's open contact."""
    return sum(1 for c in sim.output_changes if c.point == "open" and c.active)


def check_journal(journal: Journal, lane: str, sim: IoModuleSimulator, plates: list[str]) -> Tally:
    """Assert the invariants for ``lane`` (its barrier behind ``sim``, ``plates`` the vehicles that should have a
    session there) and return the figures."""
    chain = journal.verify_chain()
    assert chain.ok, chain.detail
    opens = opened(sim)
    commanded = journal.count("barrier_commands", "lane = ? AND command = 'open'", (lane,))
    assert commanded == opens, f"{opens} openings seen, {commanded} journaled"
    untied = journal.count("barrier_commands", "lane = ? AND command = 'open' AND (for_record IS NULL OR "
                           "for_record NOT IN (SELECT id FROM records))", (lane,))  # fmt: skip
    assert untied == 0, f"{untied} openings not tied to a stored record"
    sessions = [
        p for (p,) in journal.rows("SELECT plate FROM sessions WHERE entry_lane = ? ORDER BY entry_at", (lane,))
    ]
    counts = Counter(sessions)
    tally = Tally(
        opens=opens,
        sessions=sessions,
        lost=sum(1 for p in set(plates) if counts[p] == 0),
        duplicated=sum(n - 1 for n in counts.values() if n > 1),
        unexpected=sorted(p for p in counts if p not in set(plates)),
    )
    return tally
