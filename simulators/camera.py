"""A plate camera simulator: Hikvision ISAPI pushes (multipart with OpenCV-rendered JPEGs) and Milesight-style JSON
over HTTP and MQTT, with the faults real cameras have: look-alike misreads, "unknown" reads, duplicates, late reads.

The documents are built by the driver's own encoders (:mod:`drivers.lpr.isapi`, :mod:`drivers.lpr.jsonmap`), the
camera's side of the same format. OpenCV 5 draws Chinese with its built-in Unicode font, so the rendered plate shows
粤B3R7K2 as it is; OpenCV 4's Hershey fonts have no Chinese glyphs, and there the province is drawn in pinyin
(粤 -> "YUE-B3R7K2"). The XML/JSON always carry the real text.

``parkgate sim camera isapi|json URL`` and ``parkgate sim camera mqtt --topic T`` run it from a shell.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

import aiohttp
import aiomqtt

from drivers.lpr.isapi import encode_isapi_multipart, encode_isapi_xml
from drivers.lpr.jsonmap import encode_milesight
from parking.clock import now as clock_now

LOOK_ALIKES = {"O": "0", "0": "O", "I": "1", "1": "I", "B": "8", "8": "B", "D": "0", "Z": "2", "2": "Z", "S": "5",
               "5": "S"}  # fmt: skip
PROVINCES = {
    "京": "JING", "津": "JIN", "沪": "HU", "渝": "YU", "冀": "JI", "豫": "YU", "云": "YUN", "辽": "LIAO", "黑": "HEI",
    "湘": "XIANG", "皖": "WAN", "鲁": "LU", "新": "XIN", "苏": "SU", "浙": "ZHE", "赣": "GAN", "鄂": "E", "桂": "GUI",
    "甘": "GAN", "晋": "JIN", "蒙": "MENG", "陕": "SHAAN", "吉": "JI", "闽": "MIN", "贵": "GUI", "粤": "YUE",
    "青": "QING", "藏": "ZANG", "川": "CHUAN", "宁": "NING", "琼": "QIONG", "使": "SHI", "领": "LING", "警": "JING",
    "学": "XUE", "港": "GANG", "澳": "AO",
}  # fmt: skip
PLATE_COLOURS = {"blue": (160, 60, 10), "yellow": (0, 200, 240), "green": (90, 200, 60), "white": (240, 240, 240),
                 "black": (20, 20, 20)}  # fmt: skip


# OpenCV and NumPy are imported by the functions that draw: `parkgate` registers this simulator's subcommand in
# every process (``parkgate edge run`` too), which must not load them.


def _unicode_font(cv2: Any) -> bool:
    """Whether this OpenCV build's fonts have CJK glyphs (5 and later)."""
    return int(cv2.__version__.split(".", 1)[0]) >= 5


def latin_text(plate: str) -> str:
    """The plate with Chinese characters as pinyin, for OpenCV builds whose fonts have no CJK glyphs."""
    return "".join(f"{PROVINCES[ch]}-" if ch in PROVINCES else (ch if ch.isascii() else "?") for ch in plate)


def render_plate(plate: str, colour: str = "blue", size: tuple[int, int] = (440, 140)) -> bytes:
    """A JPEG of the plate crop (``licensePlatePicture.jpg``)."""
    import cv2
    import numpy as np

    width, height = size
    background = PLATE_COLOURS.get(colour, PLATE_COLOURS["blue"])
    ink = (20, 20, 20) if colour in ("yellow", "green", "white") else (255, 255, 255)
    image = np.full((height, width, 3), background, dtype=np.uint8)
    cv2.rectangle(image, (6, 6), (width - 7, height - 7), ink, 3)
    text = plate if _unicode_font(cv2) else latin_text(plate)
    scale = min(2.0, (width - 40) / max(1, cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 1.0, 3)[0][0]))
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 3)
    cv2.putText(image, text, ((width - tw) // 2, (height + th) // 2), cv2.FONT_HERSHEY_SIMPLEX, scale, ink, 3)
    return _jpeg(image)


def render_vehicle(plate: str, colour: str = "blue", size: tuple[int, int] = (960, 540)) -> bytes:
    """A JPEG of the vehicle scene with the plate in it (``vehiclePicture.jpg``)."""
    import cv2
    import numpy as np

    width, height = size
    image = np.full((height, width, 3), (70, 70, 70), dtype=np.uint8)
    cv2.rectangle(image, (width // 4, height // 4), (3 * width // 4, height - 40), (180, 180, 180), -1)
    crop: Any = cv2.imdecode(np.frombuffer(render_plate(plate, colour, (220, 70)), np.uint8), cv2.IMREAD_COLOR)
    y, x = height - 150, (width - 220) // 2
    image[y : y + 70, x : x + 220] = crop
    cv2.putText(image, "ParkGate camera simulator", (20, 40), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (255, 255, 255), 2)
    return _jpeg(image)


def _jpeg(image: Any) -> bytes:
    import cv2

    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        raise RuntimeError("OpenCV could not encode the JPEG")
    return bytes(buffer.tobytes())


def look_alike(plate: str, rng: random.Random) -> str:
    """The plate with one serial character swapped for its look-alike (never the province)."""
    positions = [i for i, ch in enumerate(plate) if i > 0 and ch in LOOK_ALIKES]
    if not positions:
        return plate
    i = rng.choice(positions)
    return plate[:i] + LOOK_ALIKES[plate[i]] + plate[i + 1 :]


@dataclass(frozen=True, slots=True)
class SimRead:
    """What the simulated camera reports for one passing vehicle."""

    plate: str  # as the camera "read" it (may be a misread or "unknown")
    true_plate: str
    confidence: float
    direction: str  # "forward" / "reverse" (ISAPI words; JSON uses Approach / Away)
    at: datetime
    event_id: str
    colour: str = "blue"


class CameraSim:
    """Makes reads and pushes them. ``clock`` and ``seed`` make runs repeatable."""

    def __init__(
        self, name: str = "sim-camera", *, seed: int | None = None,
        clock: Callable[[], datetime] = clock_now, username: str | None = None,
        password: str | None = None, auth: str = "digest", timezone: tzinfo = UTC,
    ) -> None:  # fmt: skip
        """``username``/``password``: the credentials it pushes with, HTTP ``digest`` or ``basic`` (as a camera's
        HTTP host notification is set up). ``timezone``: the zone its clock is set to; a JSON (Milesight) push
        writes the local time without an offset, as the cameras do, and the edge reads it in the site's zone."""
        self.name = name
        self.username, self.password, self.auth = username, password, auth
        self.rng = random.Random(seed)
        self.clock = clock
        self.timezone = timezone
        self.sent = 0

    def read(
        self, plate: str, *, confidence: float = 0.95, direction: str = "forward", colour: str = "blue",
        misread: bool = False, unknown: bool = False, late_by: timedelta = timedelta(0),
    ) -> SimRead:  # fmt: skip
        seen = "unknown" if unknown else (look_alike(plate, self.rng) if misread else plate)
        return SimRead(
            plate=seen, true_plate=plate, confidence=0.0 if unknown else confidence, direction=direction,
            at=self.clock() - late_by, event_id=str(uuid.UUID(int=self.rng.getrandbits(128))), colour=colour,
        )  # fmt: skip

    def isapi_body(self, read: SimRead, *, images: bool = True, encoding: str = "UTF-8") -> tuple[bytes, str]:
        """The body and Content-Type of the ISAPI push for ``read``."""
        names = ["licensePlatePicture.jpg", "vehiclePicture.jpg"] if images else []
        xml = encode_isapi_xml(
            plate=read.plate, confidence=round(read.confidence * 100), direction=read.direction,
            plate_color=read.colour, at=read.at, event_id=read.event_id, pictures=names, encoding=encoding,
        )  # fmt: skip
        if not images:
            return xml, f"application/xml; charset={encoding}"
        pictures = {
            "licensePlatePicture.jpg": render_plate(read.true_plate, read.colour),
            "vehiclePicture.jpg": render_vehicle(read.true_plate, read.colour),
        }
        return encode_isapi_multipart(xml, pictures, boundary=f"boundary{self.rng.getrandbits(32):08x}")

    def json_body(self, read: SimRead, *, images: bool = True) -> bytes:
        return encode_milesight(
            plate=read.plate, confidence=read.confidence,
            direction="Approach" if read.direction == "forward" else "Away", at=read.at.astimezone(self.timezone),
            device=self.name,
            plate_color=read.colour.capitalize(),
            plate_image=render_plate(read.true_plate, read.colour) if images else None,
            full_image=render_vehicle(read.true_plate, read.colour) if images else None,
        )  # fmt: skip

    async def push_isapi(self, url: str, read: SimRead, *, images: bool = True, encoding: str = "UTF-8") -> int:
        body, content_type = self.isapi_body(read, images=images, encoding=encoding)
        return await self._post(url, body, content_type)

    async def push_json(self, url: str, read: SimRead, *, images: bool = True) -> int:
        return await self._post(url, self.json_body(read, images=images), "application/json")

    async def _post(self, url: str, body: bytes, content_type: str) -> int:
        timeout = aiohttp.ClientTimeout(total=5)
        middlewares: tuple[aiohttp.DigestAuthMiddleware, ...] = ()
        headers = {"Content-Type": content_type}
        if self.username is not None and self.password is not None:
            if self.auth == "basic":
                headers["Authorization"] = aiohttp.encode_basic_auth(self.username, self.password)
            else:
                middlewares = (aiohttp.DigestAuthMiddleware(self.username, self.password),)
        async with aiohttp.ClientSession(timeout=timeout, middlewares=middlewares) as session, session.post(
            url, data=body, headers=headers
        ) as response:  # fmt: skip
            await response.read()
            self.sent += 1
            return response.status

    async def publish(self, client: aiomqtt.Client, topic: str, read: SimRead, *, images: bool = False) -> None:
        await client.publish(topic, self.json_body(read, images=images), qos=1)
        self.sent += 1


# ---------------------------------------------------------------------- parkgate sim camera


def register_sim(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("camera", help="a plate camera pushing ISAPI or JSON over HTTP, or JSON over MQTT")
    parser.add_argument("mode", choices=("isapi", "json", "mqtt"))
    parser.add_argument("url", nargs="?", help="where to POST (isapi/json), e.g. http://127.0.0.1:8099/lpr/entry-1")
    parser.add_argument("--plate", action="append", default=[], help="plate to send, repeatable (default 粤B3R7K2)")
    parser.add_argument("--count", type=int, default=1, help="number of reads to send")
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--misread-rate", type=float, default=0.0, help="share of reads with a look-alike swapped")
    parser.add_argument("--unknown-rate", type=float, default=0.0, help='share of reads sent as "unknown"')
    parser.add_argument("--duplicate-rate", type=float, default=0.0, help="share of reads sent twice")
    parser.add_argument("--late-rate", type=float, default=0.0, help="share of reads dated 30 s in the past")
    parser.add_argument("--no-images", action="store_true")
    parser.add_argument("--gbk", action="store_true", help="ISAPI XML in GBK (declared encoding)")
    parser.add_argument("--host", default="127.0.0.1", help="MQTT broker")
    parser.add_argument("--port", type=int, default=1883)
    parser.add_argument("--topic", default="parkgate/lpr/sim-camera")
    parser.add_argument("--name", default="sim-camera")
    parser.add_argument("--user", help="HTTP push credentials: user name (password from --password-env)")
    parser.add_argument("--password-env", default="PARKGATE_CAMERA_PASSWORD", help="variable holding the password")
    parser.add_argument("--auth", choices=("digest", "basic"), default="digest")
    parser.add_argument("--seed", type=int)
    parser.set_defaults(handler=lambda args: asyncio.run(_run(args)))


async def _run(args: argparse.Namespace) -> int:
    password = os.environ.get(args.password_env) if args.user else None
    sim = CameraSim(args.name, seed=args.seed, username=args.user, password=password, auth=args.auth)
    plates = args.plate or ["粤B3R7K2"]
    if args.mode != "mqtt" and not args.url:
        raise SystemExit("give the URL to push to")
    async with contextlib.AsyncExitStack() as stack:
        client = None
        if args.mode == "mqtt":
            client = await stack.enter_async_context(aiomqtt.Client(args.host, args.port))
        for n in range(args.count):
            rng = sim.rng
            read = sim.read(
                plates[n % len(plates)], misread=rng.random() < args.misread_rate,
                unknown=rng.random() < args.unknown_rate,
                late_by=timedelta(seconds=30) if rng.random() < args.late_rate else timedelta(0),
            )  # fmt: skip
            for _ in range(2 if rng.random() < args.duplicate_rate else 1):
                if client is not None:
                    await sim.publish(client, args.topic, read, images=not args.no_images)
                    outcome = "published"
                elif args.mode == "isapi":
                    encoding = "GBK" if args.gbk else "UTF-8"
                    outcome = str(await sim.push_isapi(args.url, read, images=not args.no_images, encoding=encoding))
                else:
                    outcome = str(await sim.push_json(args.url, read, images=not args.no_images))
                print(f"{read.at.isoformat()} {read.plate} ({read.true_plate}) {read.confidence:.2f} -> {outcome}")
            await asyncio.sleep(args.interval)
    return 0
