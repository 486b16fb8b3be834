"""Every amount and count an operator types at the booth console is bounded (real HTTP to the console)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.edge.console.test_api import FLOAT, Edge, edge, error_code

__all__ = ["edge"]  # the fixture


@pytest.mark.parametrize(
    ("path", "body", "code"),
    [
        ("shift/open", {"float": {"10000": 10**30}, "cards_stock": 100}, "input.bad_count"),
        ("shift/open", {"float": FLOAT, "cards_stock": 10**12}, "input.bad_count"),
        ("shift/open", {"float": {"10000": "9" * 5000}, "cards_stock": 100}, "input.bad_count"),
        ("shift/open", {"float": {"1" * 5000: 1}, "cards_stock": 100}, "input.bad_counts"),
        ("shift/open", {"float": {str(d): 1 for d in range(1, 100)}, "cards_stock": 1}, "input.bad_counts"),
    ],
)
async def test_an_absurd_float_is_refused_with_the_field_named(edge: Edge, path: str, body: dict[str, Any],
                                                               code: str) -> None:  # fmt: skip
    assert (await edge.sign_in()).status_code == 200
    records = edge.daemon.journal.last_seq
    response = await edge.post(path, body)
    assert (response.status_code, error_code(response)) == (422, code)
    assert edge.daemon.journal.last_seq == records
    assert edge.desk.booth.current is None


async def test_a_drop_or_a_payment_of_an_absurd_amount_is_refused_and_nothing_is_stored(edge: Edge) -> None:
    assert (await edge.sign_in()).status_code == 200
    assert (await edge.post("shift/open", {"float": FLOAT, "cards_stock": 100})).status_code == 200
    await edge.enter("粤B12345")
    edge.clock.advance(hours=2)
    await edge.arrive_at_exit("粤B12345")
    records = edge.daemon.journal.last_seq
    drop = await edge.post("shift/drop", {"bag": "TB-1", "counts": {"10000": 10**34}})
    assert (drop.status_code, error_code(drop)) == (422, "input.bad_count")
    assert "counts[10000]" in drop.json()["error"]["message"]
    for tendered in ("1" + "0" * 30 + ".00", "1000000.01", "9" * 100):
        pay = await edge.post("lanes/out-1/pay", {"method": "cash", "tendered": tendered})
        assert (pay.status_code, error_code(pay)) == (422, "input.bad_amount"), tendered
    closing = await edge.post("shift/close", {"counts": {"10000": 10**30}, "cards_on_hand": 100,
                                              "cards_collected": 0})  # fmt: skip
    assert (closing.status_code, error_code(closing)) == (422, "input.bad_count")
    assert edge.daemon.journal.last_seq == records
    shift = edge.desk.booth.current
    assert shift is not None
    assert shift.totals().takings == 0
    assert edge.daemon.lanes["out-1"].phase.value == "waiting"
