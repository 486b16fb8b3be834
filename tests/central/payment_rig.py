"""A real central (uvicorn, PostgreSQL) configured for both providers, and the provider simulator (uvicorn) whose
keys it holds: what the payment tests of central and of the edge share."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import Engine

from central.core.config import Settings
from central.core.security import Role
from central.main import create_app
from simulators.payment_provider import PaymentProviderSimulator
from simulators.payment_provider import create_app as create_provider_app
from tests.central.conftest import Operators, empty_tables
from tests.services import free_tcp_port, serving

free_port = free_tcp_port  # the edge's payment tests import it from here


@dataclass
class PaymentRig:
    central: str
    provider: PaymentProviderSimulator
    app: FastAPI
    staff: Operators
    car_park: str
    edge_token: str

    @property
    def edge(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.edge_token}"}

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(method, self.central + path, timeout=10, **kwargs)

    def quote(self, lane: str, session: str, total: int, *, plate: str = "粤B3R7K2",
              entry: str = "2026-12-01T01:00:00Z", paid_before: int = 0) -> dict[str, Any]:  # fmt: skip
        body = {"lane": lane, "session": session, "plate": plate, "entry_at": entry,
                "quoted_at": datetime.now(UTC).isoformat(), "tariff_id": "standard", "tariff_hash": "ab" * 32,
                "lines": [{"label": "first hour", "amount": 500}, {"label": "next hours", "amount": total - 500}],
                "paid_before": paid_before, "total": total, "currency": "CNY"}  # fmt: skip
        answer = self.call("POST", "/api/v1/edges/exit-quotes", headers=self.edge, json=body)
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result

    def order(self, provider: str, *, lane: str = "out-1", **extra: Any) -> dict[str, Any]:
        body = {"car_park": self.car_park, "lane": lane, "provider": provider, **extra}
        answer = self.call("POST", "/api/v1/pay/orders", json=body)
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result

    def settlements(self, since: int = 0) -> list[dict[str, Any]]:
        answer = self.call("GET", f"/api/v1/edges/payments?since={since}", headers=self.edge)
        assert answer.status_code == 200, answer.text
        result: list[dict[str, Any]] = answer.json()["settlements"]
        return result


@contextmanager
def payment_rig(engine: Engine, database_url: str, tokens: dict[Role, str], keys: Path) -> Iterator[PaymentRig]:
    """Both servers up, a car park ``lakeview`` with its edge; the database emptied first."""
    empty_tables(engine)
    provider = PaymentProviderSimulator()
    provider_port, central_port = free_port(), free_port()
    provider.base_url = f"http://127.0.0.1:{provider_port}"
    central_url = f"http://127.0.0.1:{central_port}"
    settings = Settings.model_validate({"database_url": database_url, "db_pool_size": 4,
                                        "bootstrap_admin_password": None, "payment_notify_base_url": central_url,
                                        **provider.merchant_files(keys)})  # fmt: skip
    app = create_app(settings)
    staff = Operators(tokens)
    with serving(create_provider_app(provider), provider_port), serving(app, central_port):
        admin = staff.admin
        answer = httpx.post(
            central_url + "/api/v1/car-parks", headers=admin, json={"id": "lakeview", "name": "Lakeview"}
        )
        assert answer.status_code == 201, answer.text
        answer = httpx.post(central_url + "/api/v1/edges", headers=admin,
                            json={"id": "lakeview-edge", "car_park_id": "lakeview", "name": "booth PC"})  # fmt: skip
        assert answer.status_code == 201, answer.text
        yield PaymentRig(central_url, provider, app, staff, "lakeview", answer.json()["token"])
    app.state.engine.dispose()
