"""The demo's car park: its site file (four lanes on simulated devices), its tariff, and what central holds for it
(the car park, lanes, the edge's token, monthly passes, free vehicles), set up through central's real API."""

from __future__ import annotations

import secrets
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"
CAR_PARK = "demo"
SITE_ZONE = ZoneInfo("Asia/Shanghai")  # the car park's zone, and the one its cameras' clocks are set to
EDGE_ID = "demo-edge"
TOKEN_ENV = "PARKGATE_EDGE_TOKEN"
PASS_PLATES = ("粤B3R7K2", "粤B8D2Z5", "粤AD10086", "粤S5B8Q1", "粤B6L2M0", "粤E2Z81C", "粤BF36901", "粤S0Q8B6")
FREE_VEHICLES = (("粤B1234警", "police"), ("粤A120J9", "ambulance"), ("粤B119X7", "fire"))
IO_POINTS = {"open": 0, "close": 1, "open_limit": 0, "closed_limit": 1, "arming_loop": 2, "safety_loop": 3, "fault": 4}


@dataclass(frozen=True, slots=True)
class DemoLane:
    id: str
    name: str
    direction: str  # entry / exit
    attended: bool
    camera: str  # hikvision_isapi / json_http

    @property
    def camera_path(self) -> str:
        return f"/isapi/{self.id}" if self.camera == "hikvision_isapi" else f"/lpr/{self.id}"


LANES = (
    DemoLane("in-1", "东门入口", "entry", False, "hikvision_isapi"),
    DemoLane("in-2", "南门入口", "entry", False, "json_http"),
    DemoLane("out-1", "东门出口(岗亭)", "exit", True, "hikvision_isapi"),
    DemoLane("out-2", "南门出口(无人值守)", "exit", False, "json_http"),
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def demo_tariff() -> str:
    """config/tariffs/residential.toml without its 30 free minutes: a demo stay lasts seconds, and a visitor who
    paid nothing would show no takings. Every other rule (5.00 the first hour, caps, lost card) is the file's."""
    text = (CONFIG_DIR / "tariffs" / "residential.toml").read_text(encoding="utf-8")
    if "free_minutes = 30" not in text:
        raise RuntimeError("config/tariffs/residential.toml changed: the demo expects 'free_minutes = 30' in it")
    header = "# The demo's copy of config/tariffs/residential.toml, free period removed so short stays are charged.\n"
    return header + text.replace("free_minutes = 30", "free_minutes = 0", 1)


def write_site(folder: Path, *, ports: dict[str, str], camera_port: int, console_port: int, central_url: str,
               card_readers: Mapping[str, str] | None = None) -> Path:  # fmt: skip
    """The site file; ``ports`` maps each lane to the host side of its I/O module's pseudo-terminal, and
    ``card_readers`` a lane with a card reader (a Wiegand-to-RS485 converter) to the host side of its line."""
    readers = card_readers or {}
    (folder / "tariffs").mkdir(parents=True, exist_ok=True)
    (folder / "tariffs" / "residential.toml").write_text(demo_tariff(), encoding="utf-8")
    io_map = "\n".join(f"{name} = {{ address = {address} }}" for name, address in IO_POINTS.items())
    parts = [
        f"""# Written by `parkgate demo`: four lanes on simulated devices (Modbus I/O modules on pseudo-terminals,
# plate cameras pushing to the edge's HTTP listener). Check it with `parkgate config check`.
[car_park]
id = "{CAR_PARK}"
name = "ParkGate 演示停车场"
timezone = "{SITE_ZONE.key}"
currency = "CNY"
capacity = {{ small = 200, large = 10, new_energy = 40 }}

[journal]
path = "edge/journal.sqlite3"

[central]
url = "{central_url}"
edge_id = "{EDGE_ID}"
token_env = "{TOKEN_ENV}"

[console]
listen = "127.0.0.1:{console_port}"

[tariffs.residential]
file = "tariffs/residential.toml"
"""
    ]
    for lane in LANES:
        parts.append(
            f'[devices.{lane.id}-io]\nkind = "barrier_io"\ndriver = "modbus_io"\n'
            f'connection = {{ type = "serial", port = "{ports[lane.id]}", baudrate = 9600, parity = "N" }}\n'
            f"modbus = {{ unit_id = 1, poll_interval_ms = 40 }}\n[devices.{lane.id}-io.io_map]\npulse_ms = 100\n"
            f"{io_map}\n"
        )
        field_map = '\nfield_map = "milesight"' if lane.camera == "json_http" else ""
        parts.append(
            f'[devices.{lane.id}-cam]\nkind = "plate_camera"\ndriver = "{lane.camera}"\ncamera_id = "{lane.id}-cam"'
            f'{field_map}\nconnection = {{ type = "http_listen", listen = "127.0.0.1:{camera_port}", '
            f'path = "{lane.camera_path}" }}\n'
        )
        if lane.id in readers:
            parts.append(
                f'[devices.{lane.id}-reader]\nkind = "card_reader"\ndriver = "wiegand_rs485"\n'
                f'connection = {{ type = "serial", port = "{readers[lane.id]}", baudrate = 9600 }}\n'
            )
    for lane in LANES:
        tariff = 'tariff = "residential"\n' if lane.direction == "exit" else ""
        reader = f', card_reader = "{lane.id}-reader"' if lane.id in readers else ""
        parts.append(
            f'[[lanes]]\nid = "{lane.id}"\nname = "{lane.name}"\ndirection = "{lane.direction}"\n'
            f'mode = "{"attended" if lane.attended else "unattended"}"\n{tariff}read_window_ms = 1500\n'
            f'devices = {{ barrier = "{lane.id}-io", loops = "{lane.id}-io", camera = "{lane.id}-cam"{reader} }}\n'
        )
    path = folder / "site.toml"
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


class CentralSetupError(Exception):
    pass


def _ok(response: httpx.Response, status: int = 200) -> Any:
    if response.status_code != status:
        raise CentralSetupError(f"{response.request.method} {response.request.url.path}: "
                                f"{response.status_code} {response.text[:300]}")  # fmt: skip
    return response.json() if response.content else None


async def admin_client(base_url: str, password: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=base_url, timeout=15)
    try:
        login = _ok(await client.post("/api/v1/auth/login", json={"username": "admin", "password": password}))
    except Exception:
        await client.aclose()
        raise
    client.headers["Authorization"] = f"Bearer {login['token']}"
    return client


async def set_up_central(client: httpx.AsyncClient) -> str:
    """The car park, its lanes, a pass plan, holders with monthly passes, free vehicles; returns the edge token."""
    _ok(await client.post("/api/v1/car-parks", json={"id": CAR_PARK, "name": "ParkGate 演示停车场"}), 201)
    for lane in LANES:
        body = {"id": lane.id, "car_park_id": CAR_PARK, "name": lane.name, "direction": lane.direction}
        _ok(await client.post("/api/v1/lanes", json=body), 201)
    edge = _ok(await client.post("/api/v1/edges", json={"id": EDGE_ID, "car_park_id": CAR_PARK,
                                                        "name": "booth PC"}), 201)  # fmt: skip
    plan = _ok(await client.post("/api/v1/plans", json={"name": "月租 residents", "price_minor": 30000,
                                                        "currency": "CNY", "car_parks": [CAR_PARK]}), 201)  # fmt: skip
    names = ("王小明", "李娜", "张伟", "陈静", "刘洋", "杨帆", "赵磊", "黄敏")
    for number, (plate, name) in enumerate(zip(PASS_PLATES, names, strict=True), start=1):
        unit = _ok(await client.post("/api/v1/units", json={"building": str(number), "room": f"{number}201"}), 201)
        holder = _ok(await client.post("/api/v1/holders", json={"name": name, "phone": f"1380000000{number}",
                                                                 "unit_id": unit["id"]}), 201)  # fmt: skip
        sale = {"holder_id": holder["id"], "plan_id": plan["id"], "plates": [plate]}
        _ok(await client.post("/api/v1/passes", json=sale), 201)
    for plate, category in FREE_VEHICLES:
        entry = {"list_kind": "free", "plate": plate, "category": category, "reason": f"{category} on duty",
                 "car_parks": [CAR_PARK]}  # fmt: skip
        _ok(await client.post("/api/v1/vehicles", json=entry), 201)
    return str(edge["token"])


# One office user per role besides the admin (the admin is made at start-up), for the office console.
OFFICE_ROLES = (("front_desk", "前台 演示"), ("cashier", "出纳 演示"), ("supervisor", "主管 演示"),
                ("office", "财务 演示"), ("auditor", "审计 演示"), ("collector", "收费员 演示"))  # fmt: skip


async def create_office_users(client: httpx.AsyncClient) -> list[tuple[str, str, str]]:
    """A demo user per role (named ``demo-<role>``, a random password); answers (role, user name, password)."""
    made = []
    for role, full_name in OFFICE_ROLES:
        username, password = f"demo-{role.replace('_', '-')}", secrets.token_urlsafe(9)
        body = {"username": username, "full_name": full_name, "role": role, "password": password}
        _ok(await client.post("/api/v1/users", json=body), 201)
        made.append((role, username, password))
    return made
