"""The disk under the journal fills up, for real: the journal lives on a small tmpfs (mounted for the test; it needs
root, as a real full disk does) next to a file that takes the space. The real daemon, Modbus I/O modules, the LPR
listener and an LED display over TCP.

* Below the reserve, temporary vehicles are refused with a message on the display and an alert, and the refusal is
  journaled; pass holders still enter on the space kept for them.
* With no space at all, the journal's error becomes a refused vehicle (display message, booth alert), never an
  opening without its record, and no record already stored is lost.
* Space returns: the edge takes vehicles again by itself, without a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from edge.daemon import EdgeDaemon
from edge.lanes.lane import Phase
from edge.runner import LaneRunner
from edge.store.journal import Journal
from edge.store.lists import ListStore, lists_path
from parking.wire import SyncPage
from simulators.display import DisplaySimulator
from tests.edge.kit import a_pass
from tests.edge.test_daemon import SimLane, daemon_for, free_port, online, push_isapi, sims, until, write_site
from tests.edge.test_decisions_e2e import alerts, denials
from tests.soak_summary import Row, record

__all__ = ["sims"]  # the fixture

DISK_MB = 4
RESERVE_MB = 1.0


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """``tmp_path/var``: a tmpfs of :data:`DISK_MB` MB, the journal's folder."""
    disk = tmp_path / "var"
    disk.mkdir()
    if os.geteuid() != 0:
        pytest.skip("a small real file system for the journal needs root (mount -t tmpfs)")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_MB}m", "tmpfs", str(disk)],
                             capture_output=True, text=True, check=False)  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs for the journal: {mounted.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(disk: Path, leave_bytes: int) -> Path:
    """Take the file system's space, leaving about ``leave_bytes`` free (0: until it refuses a byte)."""
    filler = disk / "filler.bin"
    chunk = b"\0" * 65536
    with filler.open("ab", buffering=0) as out:
        while True:
            free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
            want = min(len(chunk), free - leave_bytes) if leave_bytes else len(chunk)
            if want <= 0:
                break
            try:
                out.write(chunk[:want])
            except OSError as err:
                if err.errno != errno.ENOSPC:
                    raise
                break
        if not leave_bytes:  # the last blocks, byte by byte up to the end
            for size in (4096, 512, 1):
                with contextlib.suppress(OSError):
                    while True:
                        out.write(b"\0" * size)
    return filler


async def arrive(entry: SimLane, cameras: int, plate: str) -> None:
    await push_isapi(cameras, plate, 96)
    entry.drive_up()


async def leave_unserved(daemon: EdgeDaemon, entry: SimLane) -> None:
    entry.model.vehicles.clear()  # the refused car reverses away
    await until(lambda: daemon.lanes["in-1"].phase is Phase.IDLE, within=10, what="refused vehicle gone")
    # The camera stamps whole seconds: the next car's read must not look taken before this one's decision.
    await asyncio.sleep(1.2)


def failing(runner: LaneRunner) -> str | None:
    """The runner's journal failure (a function: the value changes under the test's awaits)."""
    return runner.journal_failing


async def test_a_full_disk_under_the_journal_refuses_with_a_message_keeps_every_record_and_recovers(
    tmp_path: Path, small_disk: Path, sims: tuple[SimLane, SimLane]
) -> None:
    await disk_full_run(tmp_path, small_disk, sims, cycles=1)


@pytest.mark.soak
@pytest.mark.timeout(1200)
async def test_soak_the_disk_filled_and_freed_twenty_times(
    tmp_path: Path, small_disk: Path, sims: tuple[SimLane, SimLane]
) -> None:
    await disk_full_run(tmp_path, small_disk, sims, cycles=20)


async def disk_full_run(tmp_path: Path, small_disk: Path, sims: tuple[SimLane, SimLane], cycles: int) -> None:
    """Below the reserve once; then ``cycles`` times: the disk full (the vehicle held), then space back (through)."""
    entry, out = sims
    display = DisplaySimulator()
    display_port = await display.server.serve_tcp("127.0.0.1", 0)
    cameras = free_port()
    site_file = write_site(tmp_path, entry.port, out.port, None, cameras)
    text = site_file.read_text()
    # Every vehicle of the run enters and none leaves: the car park must hold them all (the shared site's capacity of
    # 10 is full after the eighth cycle, and the next visitor is then rightly refused as ``full``).
    capacity = "capacity = { small = 10 }"
    assert capacity in text
    text = text.replace(capacity, f"capacity = {{ small = {2 + cycles + 1} }}")
    text = text.replace('path = "var/journal.sqlite3"', f'path = "var/journal.sqlite3"\nreserve_mb = {RESERVE_MB}')
    text = text.replace('camera = "in-cam" }', 'camera = "in-cam", display = "in-led" }', 1)
    text += (f'\n[devices.in-led]\nkind = "display"\ndriver = "serial_text"\n'
             f'connection = {{ type = "tcp", host = "127.0.0.1", port = {display_port} }}\n')  # fmt: skip
    site_file.write_text(text)
    store = ListStore(lists_path(small_disk / "journal.sqlite3"))
    passes = [a_pass("粤B3R7K2", id="pass-1"), a_pass("粤B99999", id="pass-2")]
    store.apply(SyncPage(since=0, version=5, full=True, more=False, passes=passes), replace=True)
    store.close()
    daemon = daemon_for(site_file)
    assert daemon.journal.path.parent == small_disk
    await daemon.start()
    try:
        await until(lambda: online(daemon), what="devices online")
        await arrive(entry, cameras, "粤A11111")
        await until(lambda: entry.model.passed == 1, what="a visitor through on a disk with room")

        # 1. Below the reserve: visitors are refused, on the display, at the booth and in the journal.
        fill(small_disk, leave_bytes=int(RESERVE_MB * 1024 * 1024) // 2)
        await until(lambda: daemon.context.storage_low is not None, what="the low space noticed")
        await arrive(entry, cameras, "粤A22222")
        await until(lambda: denials(daemon, "storage_low") != [], within=10, what="the visitor refused")
        await until(lambda: "存储空间不足" in display.text(), what="the refusal on the display")
        assert alerts(daemon, "in-1", "storage_low") == 1
        assert entry.model.passed == 1
        await leave_unserved(daemon, entry)
        await arrive(entry, cameras, "粤B3R7K2")  # a pass holder enters on the reserve
        await until(lambda: entry.model.passed == 2, within=10, what="the pass holder through")
        await until(lambda: daemon.lanes["in-1"].phase is Phase.IDLE, what="entry lane idle")
        await until(lambda: daemon.journal.count("barrier_commands", "command = 'close'") == 2, what="closes stored")

        for cycle in range(cycles):
            await full_then_freed(daemon, entry, display, small_disk, cameras, cycle)
    finally:
        await daemon.stop()
        await display.server.stop()

    journal = Journal(small_disk / "journal.sqlite3", "lakeview")
    try:
        assert journal.verify_chain().ok
        sessions = [plate for (plate,) in journal.rows("SELECT plate FROM sessions ORDER BY entry_at")]
        opens = journal.count("barrier_commands", "command = 'open'")
    finally:
        journal.close()
    opened = sum(1 for c in entry.sim.output_changes if c.point == "open" and c.active)
    assert sessions == ["粤A11111", "粤B3R7K2", *(visitor(cycle) for cycle in range(cycles))]
    assert opens == opened == entry.model.passed == 2 + cycles  # every opening has its record, and each vehicle one
    record(Row(target="journal disk full (tmpfs)" + (f", {cycles} times" if cycles > 1 else ""), faults=1 + cycles,
               transactions=3 + 2 * cycles, lost=opened - opens, duplicated=len(sessions) - len(set(sessions)),
               detail="below the reserve: visitors refused, passes in; full: vehicle held; recovered"))  # fmt: skip


def free_up(disk: Path) -> None:
    """Give the space back: the fillers :func:`fill` wrote go."""
    (disk / "filler.bin").unlink(missing_ok=True)


def visitor(cycle: int) -> str:
    return f"粤A3{cycle:04d}"


async def full_then_freed(daemon: EdgeDaemon, entry: SimLane, display: DisplaySimulator, small_disk: Path,
                          cameras: int, cycle: int) -> None:  # fmt: skip
    """The disk full: the journal's own error refuses the vehicle and the barrier stays shut; then space returns and
    the next visitor is taken without a restart."""
    # 2. No space at all: the journal's own error refuses the vehicle; it does not open the barrier.
    passed = entry.model.passed
    free_up(small_disk)
    fill(small_disk, leave_bytes=int(RESERVE_MB * 1024 * 1024) // 2)
    with sqlite3.connect(daemon.journal.path) as db:  # the WAL emptied, as a checkpoint leaves it: a commit
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # must now grow it on the full disk
    fill(small_disk, leave_bytes=0)
    opens_before = daemon.journal.count("barrier_commands", "command = 'open'")
    await arrive(entry, cameras, "粤B99999")
    await until(lambda: failing(daemon.runners["in-1"]) is not None, within=10, what="the journal failing")
    await until(lambda: alerts(daemon, "in-1", "journal") >= 1, within=10, what="the journal failure alerted")
    await until(lambda: "系统存储故障" in display.text(), what="the failure on the display")
    assert daemon.runners["in-1"].out_of_service is None
    assert entry.model.passed == passed
    assert not [c for c in entry.sim.output_changes if c.point == "open" and c.active][opens_before:]
    assert daemon.desk is not None
    assert any(a["kind"] == "journal" for a in daemon.desk.lane_alerts)
    assert daemon.park.by_pass("pass-2") is None  # taken back: it is not inside
    async with httpx.AsyncClient() as client:
        health = await client.get(f"http://127.0.0.1:{daemon.metrics_port}/healthz")
    assert health.status_code == 503
    assert set(health.json()["journal_failing"]) == {"in-1"}
    await leave_unserved(daemon, entry)

    # 3. Space returns: visitors and the held pass holder are taken again, without a restart.
    free_up(small_disk)
    await until(lambda: daemon.context.storage_low is None, what="the space noticed back")
    assert daemon.park.has_room("small")  # a refusal as ``full`` here would be the car park's, not the disk's
    await arrive(entry, cameras, visitor(cycle))
    await until(lambda: entry.model.passed == passed + 1, within=10, what="a visitor through again")
    await until(lambda: daemon.lanes["in-1"].phase is Phase.IDLE, what="entry lane idle")
    assert failing(daemon.runners["in-1"]) is None
