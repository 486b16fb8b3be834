"""Shift reconciliation against real PostgreSQL, with journals the real edge code wrote (lanes, booth, journal,
tariff engine; tests/central/edge_site.py) and pushed over the wire contract. Each scenario is flagged with its own
reason and with nothing else; a clean shift has no finding at all."""

from __future__ import annotations

import gc
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from central.core.security import Role
from edge.booth.shift import Shift
from tests.central.conftest import Operators
from tests.central.edge_site import DAY, T0, EdgeSite
from tests.central.scenario import make_site, ok

pytestmark = pytest.mark.postgres


@pytest.fixture
def edge(tmp_path: Path, client: TestClient, as_role: Operators) -> EdgeSite:
    return EdgeSite(tmp_path, make_site(client, as_role.admin))


def plain_shift(edge: EdgeSite, operator: str = "c01", *, short: int = 0, bag: str | None = None, n: int = 0) -> Shift:
    """Two paying vehicles (cash with change, e-payment) and one free one; optionally a cash drop."""
    edge.open_shift(operator)
    edge.enter(f"粤B1{n}001")
    edge.enter(f"粤B1{n}002")
    edge.tick(2 * 3600)
    edge.leave_paying(f"粤B1{n}001", operator, "cash", 2000)
    edge.leave_paying(f"粤B1{n}002", operator, "epay")
    edge.enter(f"粤B1{n}003")
    edge.tick(600)
    edge.leave_free(f"粤B1{n}003")
    if bag is not None:
        edge.drop(operator, bag, 20000)
    edge.tick(3600)
    return edge.close(operator, short=short)


def day_of(client: TestClient, as_role: Operators, car_park: str = "lakeview") -> dict[str, Any]:
    day: dict[str, Any] = ok(client.get(f"/api/v1/reconciliation/days/{car_park}/{DAY}", headers=as_role.admin))
    return day


def shift_of(client: TestClient, as_role: Operators, shift: Shift) -> dict[str, Any]:
    found: dict[str, Any] = ok(client.get(f"/api/v1/reconciliation/shifts/{shift.id}", headers=as_role[Role.AUDITOR]))
    return found


def exceptions(result: dict[str, Any]) -> list[str]:
    return sorted(f["code"] for f in result["findings"] if f["severity"] == "exception")


def custody(client: TestClient, as_role: Operators, bag: str, *, deposit: bool = True) -> None:
    cashier = as_role[Role.CASHIER]
    at = T0 + timedelta(hours=9)
    ok(client.post(f"/api/v1/bags/lakeview/{bag}/pick-up", headers=cashier,
                   json={"witnessed_by": "supervisor", "at": at.isoformat()}))  # fmt: skip
    ok(client.post(f"/api/v1/bags/lakeview/{bag}/count", headers=cashier,
                   json={"counted": 20000, "at": (at + timedelta(hours=1)).isoformat()}))  # fmt: skip
    if deposit:
        ok(client.post(f"/api/v1/bags/lakeview/{bag}/deposit", headers=cashier,
                       json={"slip_reference": "ICBC-20261127-0042",
                             "at": (at + timedelta(hours=2)).isoformat()}))  # fmt: skip


def test_a_clean_shift_has_no_finding_at_all(edge: EdgeSite, client: TestClient, as_role: Operators) -> None:
    shift = plain_shift(edge, bag="TB-0001")
    ack = edge.push(client)
    assert ack.chain.value == "ok"
    custody(client, as_role, "TB-0001")
    result = shift_of(client, as_role, shift)
    assert result["findings"] == []
    assert result["state"] == "to_review"
    cash = result["figures"]["cash"]
    assert cash["expected"] == cash["edge_expected"] == cash["counted"]
    assert cash["difference"] == 0
    assert cash["float"] == 50000
    assert cash["drops"] == 20000
    assert result["figures"]["by_method"]["epay"]["count"] == 1
    assert result["figures"]["fee_recheck"] == {"checked": 3, "equal": 3, "different": 0}
    assert result["listings"]["bags"][0]["state"] == "deposited"
    supervisor = as_role[Role.SUPERVISOR]
    ok(client.post(f"/api/v1/reconciliation/shifts/{shift.id}/sign-off", headers=supervisor, json={}))
    day = day_of(client, as_role)
    assert day["closed"] is True
    assert day["states"] == {"signed_off": 1}


def test_a_cash_shortage(edge: EdgeSite, client: TestClient, as_role: Operators) -> None:
    shift = plain_shift(edge, short=1000)
    edge.push(client)
    result = shift_of(client, as_role, shift)
    assert exceptions(result) == ["cash.shortage"]
    assert result["figures"]["cash"]["difference"] == -1000
    assert result["findings"][0]["detail"] == {"shortage": 1000}


def test_a_fee_below_the_tariff_with_a_valid_chain(tmp_path: Path, client: TestClient, as_role: Operators) -> None:
    edge = EdgeSite(tmp_path, make_site(client, as_role.admin), cut_rate=True)
    shift = plain_shift(edge)
    assert edge.journal.verify_chain().ok
    assert edge.push(client).chain.value == "ok"
    result = shift_of(client, as_role, shift)
    assert exceptions(result) == ["fee.charged_below_tariff", "fee.charged_below_tariff"]
    difference = result["findings"][0]["detail"]
    assert difference["central"]["total"] - difference["edge"]["amount"] == 300
    assert difference["edge"]["lines"]
    assert difference["central"]["lines"]
    assert result["figures"]["cash"]["difference"] == 0  # the cash balances: only the re-check sees it


def test_an_altered_record_breaks_the_chain(edge: EdgeSite, client: TestClient, as_role: Operators) -> None:
    shift = plain_shift(edge)
    payment = next(r for r in shift.records if getattr(r, "method", None) == "epay")
    edge.tamper("UPDATE records SET payload = json_set(payload, '$.plate', '粤B99999') WHERE id = ?", payment.id)
    assert edge.push(client).chain.value == "break"
    result = shift_of(client, as_role, shift)
    assert exceptions(result) == ["chain.break"]
    assert result["findings"][0]["records"] == [payment.id]


def test_a_deleted_transaction_is_a_gap(edge: EdgeSite, client: TestClient, as_role: Operators) -> None:
    shift = plain_shift(edge)
    payment = next(r for r in shift.records if getattr(r, "method", None) == "epay")
    edge.tamper("DELETE FROM records WHERE id = ?", payment.id)
    edge.push(client)
    result = shift_of(client, as_role, shift)
    assert exceptions(result) == ["chain.gap"]
    informed = {f["code"] for f in result["findings"] if f["severity"] == "info"}
    assert "payments.method_total_differs" in informed  # the e-payment total cannot be judged while it is missing


def test_a_barrier_opening_without_a_record(edge: EdgeSite, client: TestClient, as_role: Operators) -> None:
    edge.open_shift("c01")
    edge.enter("粤B20001")
    edge.tick(1800)
    edge.barrier_lifted_by_hand()
    edge.tick(5400)
    edge.leave_paying("粤B20001", "c01", "cash", 5000)
    shift = edge.close("c01")
    edge.push(client)
    result = shift_of(client, as_role, shift)
    assert exceptions(result) == ["barrier.opened_without_record"]
    assert result["figures"]["openings"]["without_command"] == 1


def test_more_cards_collected_than_issued(tmp_path: Path, client: TestClient, as_role: Operators) -> None:
    edge = EdgeSite(tmp_path, make_site(client, as_role.admin), dispenser=True)
    edge.open_shift("c01")
    edge.enter("粤B30001")
    edge.enter("粤B30002")
    edge.tick(3 * 3600)
    edge.leave_paying("粤B30001", "c01", "cash", 10000)
    edge.leave_paying("粤B30002", "c01", "epay")
    shift = edge.close("c01", cards_collected=3)  # three cards in the collected box, two exits on record
    edge.push(client)
    result = shift_of(client, as_role, shift)
    assert exceptions(result) == ["cards.collected_exceeds_issued"]
    cards = result["figures"]["cards"]
    assert (cards["issued"], cards["collected"], cards["collected_counted"]) == (2, 2, 3)


def test_a_lost_card_charge_for_a_vehicle_whose_entry_is_on_record(
    edge: EdgeSite, client: TestClient, as_role: Operators
) -> None:
    edge.open_shift("c01")
    edge.enter("粤B40001")
    edge.tick(20 * 3600)  # a long stay: more than the flat lost-card fee (computed, capped 30.00 per 24 h: 30.00)
    edge.tick(20 * 3600)
    payment = edge.leave_with_lost_card("粤B40001")
    assert payment.lost_card
    assert payment.entry_at is None
    shift = edge.close("c01")
    edge.push(client)
    result = shift_of(client, as_role, shift)
    assert exceptions(result) == ["lost_card.entry_on_record"]
    finding = result["findings"][0]
    assert finding["records"][0] == payment.id
    assert result["listings"]["lost_cards"][0]["record"] == payment.id


def test_a_collector_whose_manual_open_rate_stands_out(edge: EdgeSite, client: TestClient, as_role: Operators) -> None:
    shifts = {}
    for n, collector in enumerate(("c01", "c02", "c03", "c04")):
        edge.open_shift(collector)
        for i in range(20 if collector != "c04" else 16):
            plate = f"粤C{n}{i:04d}"
            edge.enter(plate)
            edge.tick(60)
            edge.leave_free(plate)
        if collector == "c04":
            for _ in range(4):
                edge.manual_open(collector)
        edge.tick(60)
        shifts[collector] = edge.close(collector)
        edge.tick(60)
    edge.push(client)
    day = day_of(client, as_role)
    by_collector = {s["collector"]: s for s in day["shifts"]}
    assert exceptions(by_collector["c04"]) == ["collector.rate_above_peers"]
    assert by_collector["c04"]["findings"][0]["detail"]["rate"] == "manual_open"
    for collector in ("c01", "c02", "c03"):
        assert exceptions(by_collector[collector]) == [], collector
    rates = {c["collector"]: c for c in day["collectors"]}
    assert rates["c04"]["rates"]["manual_open"] == 20.0
    assert rates["c04"]["flagged"] == {"manual_open": 0.0}
    assert len(by_collector["c04"]["listings"]["manual_opens"]) == 4


def test_a_late_record_after_sign_off_reopens_the_shift(edge: EdgeSite, client: TestClient, as_role: Operators) -> None:
    shift = plain_shift(edge)
    edge.push(client)
    supervisor = as_role[Role.SUPERVISOR]
    signed = ok(client.post(f"/api/v1/reconciliation/shifts/{shift.id}/sign-off", headers=supervisor, json={}))
    assert signed["state"] == "signed_off"
    edge.recount(shift)  # at the booth after the outage: the report reopened and counted again
    edge.push(client)
    result = shift_of(client, as_role, shift)
    assert result["state"] == "to_review"
    assert exceptions(result) == ["records.late"]
    late = [(line["kind"], line["event"]) for line in result["listings"]["late"]]
    assert late == [("shift", "report_reopened"), ("shift", "handover"), ("shift_report", "report")]
    queue = ok(client.get("/api/v1/reconciliation/shifts", headers=supervisor,
                          params={"car_park": "lakeview", "day": DAY, "state": "to_review"}))  # fmt: skip
    assert [s["shift"] for s in queue] == [shift.id]
    again = ok(client.post(f"/api/v1/reconciliation/shifts/{shift.id}/sign-off", headers=supervisor,
                           json={"note": "recount seen, figures unchanged"}))  # fmt: skip
    assert again["state"] == "signed_off"
    assert [f["severity"] for f in again["findings"]] == ["info"]  # still visible after sign-off


def test_a_bag_picked_up_but_never_deposited(edge: EdgeSite, client: TestClient, as_role: Operators) -> None:
    shift = plain_shift(edge, bag="TB-0007")
    edge.push(client)
    custody(client, as_role, "TB-0007", deposit=False)
    result = shift_of(client, as_role, shift)
    assert exceptions(result) == ["bag.not_deposited"]
    assert result["listings"]["bags"][0]["state"] == "counted"
    ok(client.post(f"/api/v1/reconciliation/shifts/{shift.id}/sign-off", headers=as_role[Role.SUPERVISOR],
                   json={"note": "bag to the bank tomorrow"}))  # fmt: skip
    assert day_of(client, as_role)["closed"] is False  # signed off, but a bag is not deposited


def test_a_report_that_does_not_validate_is_an_exception(
    edge: EdgeSite, client: TestClient, as_role: Operators
) -> None:
    shift = plain_shift(edge)
    edge.tamper("UPDATE records SET payload = json_set(payload, '$.report.cash.counted_amount', 'lots') "
                "WHERE kind = 'shift_report'")  # fmt: skip
    edge.push(client)
    result = shift_of(client, as_role, shift)
    assert exceptions(result) == ["chain.break", "report.invalid"]
    assert result["state"] == "awaiting_report"
    refused = client.post(f"/api/v1/reconciliation/shifts/{shift.id}/sign-off", headers=as_role[Role.SUPERVISOR],
                          json={"note": "x"})  # fmt: skip
    assert (refused.status_code, refused.json()["code"]) == (409, "review.awaiting_report")


def test_a_gap_belongs_to_the_shift_whose_records_surround_it(
    edge: EdgeSite, client: TestClient, as_role: Operators
) -> None:
    """A day's chain is read once per edge: each shift keeps only the gaps within its own records."""
    first = plain_shift(edge, "c01")
    second = plain_shift(edge, "c02", n=1)
    payment = next(r for r in second.records if getattr(r, "method", None) == "epay")
    edge.tamper("DELETE FROM records WHERE id = ?", payment.id)
    edge.push(client)
    assert exceptions(shift_of(client, as_role, first)) == []
    assert exceptions(shift_of(client, as_role, second)) == ["chain.gap"]
    day = day_of(client, as_role)
    assert sorted(exceptions(s) == ["chain.gap"] for s in day["shifts"]) == [False, True]


def test_a_days_reconciliation_leaves_the_garbage_collector_as_it_found_it(
    edge: EdgeSite, client: TestClient, as_role: Operators
) -> None:
    """The collector is paused while a day is reconciled (thousands of rows, no cycles), never left paused."""
    plain_shift(edge)
    edge.push(client)
    assert gc.isenabled()
    assert len(day_of(client, as_role)["shifts"]) == 1
    assert gc.isenabled()
    gc.disable()  # an application that runs without it keeps it off
    try:
        assert len(day_of(client, as_role)["shifts"]) == 1
        assert not gc.isenabled()
    finally:
        gc.enable()
