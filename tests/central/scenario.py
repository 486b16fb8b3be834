"""Building blocks the central tests share: a car park with an edge, a holder, a plan, journal chains."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from parking.ids import new_id
from parking.wire import GENESIS_HASH, JournalRecord, RecordKind, seal


@dataclass
class Site:
    car_park: str
    edge: str
    edge_token: str

    @property
    def edge_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.edge_token}"}

    @property
    def json_headers(self) -> dict[str, str]:
        return {**self.edge_headers, "Content-Type": "application/json"}


def ok(answer: Any, status: int = 200) -> Any:
    assert answer.status_code == status, answer.text
    return answer.json() if answer.content else None


def make_site(client: TestClient, admin: dict[str, str], car_park: str = "lakeview", edge: str | None = None) -> Site:
    if car_park not in {c["id"] for c in ok(client.get("/api/v1/car-parks", headers=admin))}:
        ok(client.post("/api/v1/car-parks", headers=admin, json={"id": car_park, "name": car_park.title()}), 201)
    edge_id = edge or f"{car_park}-edge"
    token = ok(client.post("/api/v1/edges", headers=admin, json={"id": edge_id, "car_park_id": car_park,
                                                                 "name": "booth PC"}), 201)["token"]  # fmt: skip
    return Site(car_park=car_park, edge=edge_id, edge_token=token)


def make_holder(client: TestClient, headers: dict[str, str], name: str = "王小明") -> int:
    unit = ok(client.post("/api/v1/units", headers=headers, json={"building": "3", "room": "1201"}), 201)
    holder = ok(client.post("/api/v1/holders", headers=headers,
                            json={"name": name, "phone": "13800000000", "unit_id": unit["id"]}), 201)  # fmt: skip
    return int(holder["id"])


def make_plan(
    client: TestClient, headers: dict[str, str], car_parks: list[str] | None = None, price: int = 30000
) -> int:
    plan = ok(client.post("/api/v1/plans", headers=headers,
                          json={"name": f"monthly {new_id()[-6:]}", "price_minor": price, "currency": "CNY",
                                "car_parks": car_parks or []}), 201)  # fmt: skip
    return int(plan["id"])


def chain(car_park: str, count: int, *, start_seq: int = 1, prev: str = GENESIS_HASH) -> list[JournalRecord]:
    records = []
    at = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)
    for seq in range(start_seq, start_seq + count):
        record = seal(
            id=new_id(), seq=seq, kind=RecordKind.TRANSACTION, car_park=car_park, lane="exit-1",
            at=at + timedelta(seconds=seq), payload={"amount": 500, "currency": "CNY", "plate": "粤B3R7K2"},
            prev_hash=prev,
        )  # fmt: skip
        records.append(record)
        prev = record.hash
    return records
