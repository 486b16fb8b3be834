"""``parkgate edge purge``, ``export-plate`` and ``verify`` as processes on a real journal: the purge reports what it
removed and the site's ``[retention]`` decides how old is old; the export needs a reason and is journaled. The
daemon's own periodic purge runs on the same site's rule."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from edge.daemon import EdgeDaemon
from edge.lanes.actions import Commit
from edge.lanes.events import TakePayment
from edge.site import SiteError, load_site
from edge.store.journal import Journal
from tests.edge.kit import Clock, arrive, context, cross, entry_lane, exit_lane, feed

ROOT = Path(__file__).resolve().parents[2]


def site_file(tmp_path: Path) -> Path:
    text = (ROOT / "config" / "small.toml").read_text(encoding="utf-8")
    text = text.replace('path = "var/lakeview-journal.sqlite3"', f'path = "{tmp_path / "journal.sqlite3"}"')
    text = text.replace('file = "tariffs/residential.toml"', f'file = "{ROOT / "config/tariffs/residential.toml"}"')
    path = tmp_path / "site.toml"
    path.write_text(text + "\n[retention]\nimages_days = 2\nevents_days = 7\n", encoding="utf-8")
    return path


def parkgate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "parking", "edge", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, check=False)  # fmt: skip


def traffic(journal: Journal) -> None:
    """Two vehicles in and out, 10 days and 1 day ago, acknowledged by central."""
    ctx = context()
    now = datetime.now(UTC)
    for plate, days_ago in (("粤B12345", 10), ("粤A99999", 1)):
        clock = Clock(now - timedelta(days=days_ago))
        actions = feed(entry_lane(ctx), clock, *arrive(plate), *cross())
        clock.advance(3600)
        lane = exit_lane(ctx)
        actions += feed(lane, clock, *arrive(plate), TakePayment(operator="c-7", reason="cash", amount=1000))
        for action in actions + feed(lane, clock, *cross()):
            if isinstance(action, Commit):
                journal.commit(action.drafts)
    journal.mark_sent([r.id for r in journal.records()])  # the site has a central: it acknowledged them


def test_purge_export_and_verify_from_the_command_line(tmp_path: Path) -> None:
    site = site_file(tmp_path)
    journal = Journal(tmp_path / "journal.sqlite3", "lakeview")
    traffic(journal)
    journal.close()

    purged = parkgate("purge", "--config", str(site), "--by", "night shift", "--json")
    assert purged.returncode == 0, purged.stderr
    report = json.loads(purged.stdout)
    assert report["by"] == "night shift"
    assert report["records"] > 0
    assert report["kept_open"] == 0

    verified = parkgate("verify", "--config", str(site))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert f"({report['records']} purged by the retention" in verified.stdout

    refused = parkgate("export-plate", "粤A99999", "--config", str(site), "--reason", " ")
    assert refused.returncode != 0
    assert "reason" in refused.stderr
    exported = parkgate("export-plate", "粤A99999", "--config", str(site), "--reason", "request #7", "--by", "王")
    assert exported.returncode == 0, exported.stderr
    found = json.loads(exported.stdout)
    assert found["plate"] == "粤A99999"
    assert {r["kind"] for r in found["records"]} == {"session", "barrier_command", "transaction"}
    assert "粤B12345" not in exported.stdout
    as_csv = parkgate("export-plate", "粤B12345", "--config", str(site), "--reason", "request #8", "--format", "csv")
    assert as_csv.returncode == 0
    assert as_csv.stdout.splitlines() == ["seq,id,kind,at,lane,event,session,image,payload"]  # purged: none left

    journal = Journal(tmp_path / "journal.sqlite3", "lakeview")
    audits = [json.loads(p) for (p,) in journal.rows("SELECT payload FROM records WHERE kind = 'privacy' ORDER BY seq")]
    assert [a["event"] for a in audits] == ["purge", "purged_records", "purged", "exported", "exported"]
    assert (audits[3]["by"], audits[3]["reason"], audits[3]["records"]) == ("王", "request #7", len(found["records"]))


async def test_the_daemon_purges_on_the_sites_rule_periodically(tmp_path: Path) -> None:
    site = load_site(site_file(tmp_path))
    journal = Journal(tmp_path / "journal.sqlite3", "lakeview")
    traffic(journal)
    daemon = SimpleNamespace(site=site, journal=journal, clock=lambda: datetime.now(UTC))
    task = asyncio.create_task(EdgeDaemon._retention(daemon, first_after_s=0))  # type: ignore[arg-type]
    try:
        for _ in range(200):
            if journal.count("records", "kind = 'privacy' AND json_extract(payload, '$.event') = 'purged'") == 1:
                break
            await asyncio.sleep(0.02)
    finally:
        task.cancel()
    ((started,),) = journal.rows("SELECT payload FROM records WHERE json_extract(payload, '$.event') = 'purge'")
    assert json.loads(started)["by"] == "edge daemon (retention)"
    assert json.loads(started)["retention"] == {"images_days": 2, "events_days": 7}
    assert "粤B12345" not in " ".join(p for (p,) in journal.rows("SELECT payload FROM records"))
    assert journal.verify_chain(site.retention.rule(), datetime.now(UTC)).ok


def test_a_retention_keeping_pictures_longer_than_plates_is_refused(tmp_path: Path) -> None:
    path = site_file(tmp_path)
    path.write_text(path.read_text(encoding="utf-8").replace("images_days = 2", "images_days = 30"), encoding="utf-8")
    with pytest.raises(SiteError) as refused:
        load_site(path)
    assert "retention" in str(refused.value)
    assert "images_days (30) must not exceed events_days (7)" in str(refused.value)
