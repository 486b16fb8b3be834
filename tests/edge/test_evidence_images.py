"""Evidence pictures end to end: a Hikvision ISAPI multipart push with JPEGs reaches the daemon's HTTP listener,
the pictures are stored under the journal's image folder, the entry session record names the stored plate picture,
the console serves it, and after a restart the console still knows the entry picture from the journal."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from drivers.lpr import Direction, PlateImage, PlateRead, encode_isapi_multipart, encode_isapi_xml
from edge.booth.operators import Role
from edge.daemon import EdgeDaemon
from edge.devices.cameras import image_names, plate_seen
from tests.edge.test_daemon import SimLane, daemon_for, free_port, online, start_sim, until, write_site

PLATE_JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 8 + b"\xff\xd9"
VEHICLE_JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00vehicle" + b"\x00" * 300 + b"\xff\xd9"


@pytest.fixture
async def sims() -> AsyncIterator[tuple[SimLane, SimLane]]:
    entry, out = await start_sim(), await start_sim()
    yield entry, out
    await entry.serving.stop()
    await out.serving.stop()


async def push_isapi_with_pictures(port: int, plate: str) -> None:
    names = ("licensePlatePicture.jpg", "detectionPicture.jpg")
    xml = encode_isapi_xml(plate=plate, confidence=96, at=datetime.now(UTC), event_id=uuid.uuid4().hex,
                           pictures=names)  # fmt: skip
    body, content_type = encode_isapi_multipart(xml, dict(zip(names, (PLATE_JPEG, VEHICLE_JPEG), strict=True)))
    async with httpx.AsyncClient() as client:
        response = await client.post(f"http://127.0.0.1:{port}/isapi/in", content=body,
                                     headers={"Content-Type": content_type})  # fmt: skip
    assert response.status_code == 200


def opened_sessions(daemon: EdgeDaemon) -> list[dict[str, object]]:
    rows = daemon.journal.rows(
        "SELECT payload FROM records WHERE kind = 'session' AND json_extract(payload, '$.event') = 'opened'"
    )
    return [json.loads(row[0]) for row in rows]


def test_stored_names_are_per_read_and_kind_and_the_lane_gets_the_plate_picture() -> None:
    read = PlateRead(
        camera="cam", plate="粤B12345", confidence=0.9, direction=Direction.APPROACH, at=datetime.now(UTC),
        source="hikvision-isapi",
        images=(PlateImage("plate", "p.jpg", data=b"p"), PlateImage("scene", "s.jpg", data=b"s"),
                PlateImage("vehicle", "v.jpg", path="/cam/v.jpg")),
    )  # fmt: skip
    names = image_names(read, "2026-11-27", "0190abcd")
    assert names == {"plate": "2026-11-27/0190abcd-plate.jpg", "scene": "2026-11-27/0190abcd-scene.jpg"}
    seen = plate_seen(read, names)
    assert seen is not None
    assert seen.image == "2026-11-27/0190abcd-plate.jpg"
    unstored = plate_seen(read)  # no image folder: the camera's own name, as before
    assert unstored is not None
    assert unstored.image == "p.jpg"


async def test_a_pushed_jpeg_is_stored_named_by_the_session_and_served_by_the_console(
    tmp_path: Path, sims: tuple[SimLane, SimLane]
) -> None:
    entry, out = sims
    cameras = free_port()
    site_file = write_site(tmp_path, entry.port, out.port, None, cameras)
    daemon = daemon_for(site_file)
    assert daemon.desk is not None
    daemon.desk.operators.add("c01", "李收费", Role.COLLECTOR, "2468", by="test")
    await daemon.start()
    try:
        await until(lambda: online(daemon), what="devices online")
        await push_isapi_with_pictures(cameras, "粤B12345")
        entry.drive_up()
        await until(lambda: entry.model.passed == 1, what="vehicle through the entry")
        [opened] = opened_sessions(daemon)
        ref = opened["image"]
        assert isinstance(ref, str)
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}/[0-9a-f-]{36}-plate\.jpg", ref), ref
        image_dir = tmp_path / "var" / "images"
        stored = image_dir / ref
        await until(stored.exists, what="picture stored")
        assert stored.read_bytes() == PLATE_JPEG
        assert (image_dir / ref.replace("-plate.jpg", "-vehicle.jpg")).read_bytes() == VEHICLE_JPEG
        assert daemon.desk.entry_images[str(opened["session"])] == ref

        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{daemon.metrics_port}", timeout=10) as http:
            signed = await http.post("/console/api/sign-in", json={"operator": "c01", "pin": "2468"})
            assert signed.status_code == 200
            served = await http.get(f"/console/api/images/{quote(ref, safe='')}")
            assert served.status_code == 200
            assert served.content == PLATE_JPEG
            found = (await http.get("/console/api/search", params={"plate": "12345"})).json()["sessions"]
            assert found[0]["entry_image"] == f"/console/api/images/{quote(ref, safe='')}"
    finally:
        await daemon.stop()

    # After a restart the console still has the entry picture: it comes from the session's opening record.
    again = daemon_for(site_file)
    assert again.desk is not None
    assert again.desk.entry_images == {str(opened["session"]): ref}
    await again.stop()
