"""A card reported lost at central, presented at an unattended entry through the simulators: the lane refuses it
(not a temporary vehicle), the display says why, and the refusal reaches central through the real sync and outbox,
where the front desk finds it on the card (API) and on the holder's page (office)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from edge.console.views import state_view
from simulators.card_reader import WiegandConverterSim
from simulators.display import DisplaySimulator
from simulators.pty import PtyLink
from tests.central.office import sign_in
from tests.central.scenario import make_holder, make_site, ok
from tests.edge.test_daemon import SimLane, daemon_for, free_port, online, sims, until, write_site
from tests.edge.test_with_central import PASSWORD, central

pytestmark = pytest.mark.postgres
__all__ = ["central", "sims"]  # fixtures: the real central service (uvicorn, PostgreSQL), the lanes' I/O modules


async def test_a_lost_card_is_refused_at_an_unattended_entry_and_the_front_desk_sees_it(
    tmp_path: Path, sims: tuple[SimLane, SimLane], central: tuple[str, TestClient, dict[str, str]]
) -> None:
    url, office, admin = central
    site = make_site(office, admin)
    holder = make_holder(office, admin)
    card = ok(office.post("/api/v1/cards", headers=admin, json={"raw": "12345678", "holder_id": holder}), 201)
    ok(office.post(f"/api/v1/cards/{card['id']}/lost", headers=admin))

    entry, out = sims
    link = PtyLink("wiegand", tmp_path).open()
    converter = WiegandConverterSim(link.device_port)
    display = DisplaySimulator()
    display_port = await display.server.serve_tcp("127.0.0.1", 0)
    site_file = write_site(tmp_path, entry.port, out.port, url, free_port())
    text = site_file.read_text().replace('camera = "in-cam" }', 'camera = "in-cam", card_reader = "in-reader", '
                                         'display = "in-led" }', 1)  # fmt: skip
    text = re.sub(r'(?m)^token = ".*"$', f'token = "{site.edge_token}"', text, count=1)  # central's token for it
    text += (
        f'\n[devices.in-reader]\nkind = "card_reader"\ndriver = "wiegand_rs485"\n'
        f'connection = {{ type = "serial", port = "{link.host_port}", baudrate = 9600 }}\n'
        f'\n[devices.in-led]\nkind = "display"\ndriver = "serial_text"\n'
        f'connection = {{ type = "tcp", host = "127.0.0.1", port = {display_port} }}\n'
    )
    site_file.write_text(text)
    daemon = daemon_for(site_file)
    try:
        await daemon.start()
        await until(lambda: online(daemon), what="devices online")
        await until(lambda: "12345678" in daemon.holder.directory.cards, what="the card list synced from central")
        assert daemon.holder.directory.cards["12345678"].status.value == "lost"
        entry.drive_up()
        await asyncio.sleep(0.3)
        converter.send(12345678)
        await until(lambda: "此卡已挂失" in display.text(), what="the refusal on the display")
        await asyncio.sleep(0.5)
        assert entry.model.passed == 0  # refused, not let in as a temporary vehicle
        assert daemon.journal.rows("SELECT kind FROM sessions") == []
        (refused,) = daemon.journal.rows("SELECT json_extract(payload, '$.code') FROM abnormal_events")
        assert refused == ("lost_card",)
        assert daemon.desk is not None
        (alert,) = state_view(daemon.desk)["lane_alerts"]  # the booth console's alert list
        assert (alert["kind"], alert["lane"], alert["details"]["card"], alert["details"]["holder"]) == (
            "stopped_card", "in-1", "12345678", "王小明"
        )  # fmt: skip

        refusals: list[dict[str, object]] = []

        def at_central() -> bool:
            refusals[:] = ok(office.get(f"/api/v1/cards/{card['id']}/refusals", headers=admin))
            return bool(refusals)

        await until(at_central, within=15, what="the refusal at central")
        (row,) = refusals
        assert (row["lane"], row["card"], row["status"], row["at_exit"]) == ("in-1", "12345678", "lost", False)
    finally:
        await daemon.stop()
        converter.close()
        link.close()
        await display.server.stop()

    sign_in(office, "admin", PASSWORD)
    page = office.get(f"/office/holders/{holder}")
    assert page.status_code == 200, page.text
    assert "Stopped cards presented at the lanes" in page.text or "停用卡在车道的刷卡记录" in page.text
    assert f'data-refusal="{row["record"]}"' in page.text
