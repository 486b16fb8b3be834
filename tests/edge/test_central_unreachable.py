"""Central unreachable for longer than the site file's ``unreachable_alert_minutes``: the booth console shows an
alert, once an outage, while the lanes go on deciding alone (the daemon with the lanes' I/O-module simulators, and
a central address where nothing listens)."""

from __future__ import annotations

from pathlib import Path

from edge.console.views import state_view
from tests.edge.test_daemon import SimLane, daemon_for, free_port, online, sims, until, write_site

__all__ = ["sims"]  # fixture: the lanes' I/O modules over Modbus TCP


async def test_an_outage_of_central_is_one_alert_at_the_booth(tmp_path: Path, sims: tuple[SimLane, SimLane]) -> None:
    entry, out = sims
    site_file = write_site(tmp_path, entry.port, out.port, f"http://127.0.0.1:{free_port()}", free_port())
    text = site_file.read_text().replace('edge_id = "lakeview-edge"\n',
                                         'edge_id = "lakeview-edge"\nunreachable_alert_minutes = 0.01\n')  # fmt: skip
    site_file.write_text(text)
    daemon = daemon_for(site_file)
    assert daemon.site.central is not None
    assert daemon.site.central.unreachable_alert_minutes == 0.01
    assert daemon.desk is not None
    desk = daemon.desk
    try:
        await daemon.start()
        await until(lambda: online(daemon), what="devices online")

        def alerted() -> list[dict[str, object]]:
            return [a for a in state_view(desk)["lane_alerts"] if a["kind"] == "central_unreachable"]

        await until(lambda: bool(alerted()), within=10, what="the central alert")
        await until(lambda: daemon.outbox is not None and daemon.outbox.failures >= 2, within=10, what="retries")
        (alert,) = alerted()  # the outage goes on: still one alert
        assert "central unreachable" in str(alert["message"])
        assert alert["lane"] is None
        assert alert["acknowledged_by"] is None
    finally:
        await daemon.stop()
