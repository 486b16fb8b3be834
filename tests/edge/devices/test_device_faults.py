"""Device faults journaled by the edge: a fault's start when a device goes offline or faults, its end (naming the
start) when it works again; one record per episode however often the reason changes; a stopped driver is no fault;
a fault open when the edge stopped is found again in the journal and cleared by the next start-up's first sight."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from drivers.health import Health, HealthChange, HealthTracker
from edge.devices.lifecycle import DeviceFaults, site_device_index
from edge.site import load_site
from edge.store.journal import Journal
from tests.edge.kit import Clock

REPO = Path(__file__).resolve().parents[3]
START = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)


def faults_of(journal: Journal) -> list[tuple[str, str | None, dict[str, object]]]:
    rows = journal.rows("SELECT id, lane, payload FROM records WHERE kind = 'device_fault' ORDER BY seq")
    return [(record_id, lane, json.loads(payload)) for record_id, lane, payload in rows]


def test_every_kind_of_device_is_known_with_its_lanes() -> None:
    site = load_site(REPO / "config" / "riverside.toml")
    index = site_device_index(site)
    kinds = {device.kind for device in index.values()}
    assert {"plate_camera", "barrier_io"} <= kinds
    assert {d: index[d].kind for d in site.devices} == {d: dev.kind.value for d, dev in site.devices.items()}
    assert "north-in" in [lane for device in index.values() for lane in device.lanes]


def test_a_fault_is_journaled_when_it_starts_and_when_it_clears(tmp_path: Path) -> None:
    site = load_site(REPO / "config" / "riverside.toml")
    camera = next(d for d, dev in site_device_index(site).items() if dev.kind == "plate_camera" and len(dev.lanes) == 1)
    journal = Journal(tmp_path / "journal.sqlite3", site.car_park.id)
    clock = Clock(START)
    faults = DeviceFaults(site, journal.commit, lambda: clock.now)
    tracker = HealthTracker(camera, listeners=[faults.observe])
    tracker.set(Health.ONLINE, "pushing events")
    assert faults_of(journal) == []
    clock.now = START + timedelta(minutes=1)
    tracker.set(Health.OFFLINE, "no event or heartbeat for 60 s")
    clock.now = START + timedelta(minutes=2)
    tracker.set(Health.FAULT, "the camera says its sensor failed")  # the same episode: no second start
    clock.now = START + timedelta(minutes=7, seconds=30)
    tracker.set(Health.DEGRADED, "unreadable push")  # talking again: the fault is over
    tracker.set(Health.ONLINE, "pushing events")
    (started_id, lane, started), (_cleared_id, cleared_lane, cleared) = faults_of(journal)
    lanes = list(site_device_index(site)[camera].lanes)
    assert (lane, cleared_lane) == (lanes[0], lanes[0])
    assert started == {"event": "started", "device": camera, "device_kind": "plate_camera", "health": "offline",
                       "reason": "no event or heartbeat for 60 s", "lanes": lanes}  # fmt: skip
    assert cleared["fault"] == started_id
    assert (cleared["event"], cleared["health"], cleared["seconds"]) == ("cleared", "degraded", 390.0)
    assert datetime.fromisoformat(str(cleared["started_at"])) == START + timedelta(minutes=1)
    assert journal.open_device_faults() == {}
    assert journal.verify_chain().ok
    journal.close()


def test_a_stopped_driver_is_no_fault_and_an_open_fault_outlives_a_restart(tmp_path: Path) -> None:
    site = load_site(REPO / "config" / "riverside.toml")
    device = next(iter(site_device_index(site)))
    path = tmp_path / "journal.sqlite3"
    journal = Journal(path, site.car_park.id)
    clock = Clock(START)
    faults = DeviceFaults(site, journal.commit, lambda: clock.now)
    faults.observe(HealthChange(device, Health.OFFLINE, "connection refused", 0.0))
    faults.observe(HealthChange("not-in-the-site", Health.FAULT, "paper out", 0.0))
    faults.close()  # the daemon stops its devices
    faults.observe(HealthChange(device, Health.OFFLINE, "stopped", 0.0))
    assert [p["event"] for _id, _lane, p in faults_of(journal)] == ["started", "started"]
    assert faults_of(journal)[1][2]["device_kind"] == ""  # a device the site does not name is still journaled
    journal.close()

    journal = Journal(path, site.car_park.id)  # the next start-up
    open_faults = journal.open_device_faults()
    assert set(open_faults) == {device, "not-in-the-site"}
    assert open_faults[device][1] == START
    clock.now = START + timedelta(hours=2)
    again = DeviceFaults(site, journal.commit, lambda: clock.now, open_faults)
    again.observe(HealthChange(device, Health.ONLINE, "connected", 0.0))
    cleared = faults_of(journal)[-1][2]
    assert (cleared["fault"], cleared["seconds"]) == (open_faults[device][0], 7200.0)
    assert set(journal.open_device_faults()) == {"not-in-the-site"}
    journal.close()
