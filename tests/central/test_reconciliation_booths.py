"""Two booths on one edge, reconciled apart against real PostgreSQL, with the journal the real edge code wrote
(tests/central/edge_site.py): each shift's opening states its booth's lanes, so each shift is given its own lanes'
barrier commands, exits, cards and abnormal events; and a free vehicle the lane let through by itself is counted by
category in the report, in central's projection of it and in the journal's count beside it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from central.core.security import Role
from central.models import EdgeShiftReport
from parking.wire import VehicleList
from tests.central.conftest import Operators
from tests.central.edge_site import EdgeSite
from tests.central.office import sign_in
from tests.central.scenario import make_site
from tests.central.test_reconciliation import exceptions, shift_of
from tests.edge.kit import a_vehicle

pytestmark = pytest.mark.postgres
POLICE = "粤B00110"


def test_two_booths_of_one_edge_are_reconciled_apart(
    tmp_path: Path, client: TestClient, as_role: Operators, central_engine: Engine
) -> None:
    police = a_vehicle(POLICE, VehicleList.FREE, "police")
    edge = EdgeSite(tmp_path, make_site(client, as_role.admin), two_booths=True, vehicles=[police])
    edge.at_booth("B1")
    east = edge.open_shift("c01")
    edge.at_booth("B2")
    west = edge.open_shift("c02")
    for plate in ("粤B12001", "粤B12002", "粤B12003", POLICE):
        edge.enter(plate)
    edge.tick(2 * 3600)
    edge.leave_paying("粤B12001", "c02", "cash", 2000)  # at the west booth's exit
    edge.leave_paying("粤B12002", "c02", "epay")
    edge.at_booth("B1")
    edge.leave_paying("粤B12003", "c01", "epay")
    edge.leave_free(POLICE)  # the lane lets the police car through by itself
    edge.tick(600)
    edge.close("c01")
    edge.at_booth("B2")
    edge.close("c02")
    assert edge.push(client).chain.value == "ok"

    east_result, west_result = shift_of(client, as_role, east), shift_of(client, as_role, west)
    assert exceptions(east_result) == []
    assert exceptions(west_result) == []
    east_figures, west_figures = east_result["figures"], west_result["figures"]
    # each shift counts its own lanes' openings (east: four entries, two exits; west: two exits), where the
    # time-window rule gave both shifts all eight
    assert east_figures["openings"]["commanded"] == 6
    assert west_figures["openings"]["commanded"] == 2
    assert (east_figures["by_method"]["epay"]["count"], east_figures["by_method"]["cash"]["count"]) == (1, 0)
    assert (west_figures["by_method"]["epay"]["count"], west_figures["by_method"]["cash"]["count"]) == (1, 1)
    assert east_figures["cards"]["issued"] == west_figures["cards"]["issued"] == 0
    assert (east_result["counts"]["exits"], west_result["counts"]["exits"]) == (2, 2)
    # the free vehicle: in the east booth's report by category, and the journal agrees
    assert east_figures["free_passes"] == {"journal": {"free": {"police": 1}}, "edge": {"free": {"police": 1}}}
    assert west_figures["free_passes"] == {"journal": {}, "edge": {}}
    waivers = east_result["listings"]["waivers"]
    assert [(w["list_kind"], w["category"]) for w in waivers] == [("free", "police")]
    assert west_result["listings"]["waivers"] == []
    with Session(central_engine) as session:
        projected = dict(session.execute(select(EdgeShiftReport.booth, EdgeShiftReport.free_passes)).all())
    assert projected == {"B1": {"free": {"police": 1}}, "B2": {}}


def test_a_report_whose_free_passes_differ_from_the_journal(
    tmp_path: Path, client: TestClient, as_role: Operators
) -> None:
    police = a_vehicle(POLICE, VehicleList.FREE, "police")
    edge = EdgeSite(tmp_path, make_site(client, as_role.admin), two_booths=True, vehicles=[police])
    shift = edge.open_shift("c01")
    edge.enter(POLICE)
    edge.tick(600)
    edge.leave_free(POLICE)
    shift.tally.free_passes.clear()  # an edge that failed to count it
    edge.tick(300)
    edge.close("c01")
    edge.push(client)
    result = shift_of(client, as_role, shift)
    assert exceptions(result) == ["free_passes.count_differs"]
    assert result["figures"]["free_passes"] == {"journal": {"free": {"police": 1}}, "edge": {}}
    sign_in(client, Role.SUPERVISOR)  # the supervisor's page shows both counts, the report's marked
    client.cookies.set("parkgate_office_lang", "en", path="/office")
    page = client.get(f"/office/reconciliation/shifts/{shift.id}").text
    row = re.search(r'data-figure="free-passes">(.*?)</tr>', page, re.S)
    assert row is not None
    assert "Free and special vehicles let through by the lanes" in row[1]
    assert '<td class="number attention"></td>' in row[1]
    assert "free · police × 1" in row[1]
    assert 'data-finding="free_passes.count_differs"' in page
