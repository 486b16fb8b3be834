"""Scan-to-pay in the demo: the payment provider simulator (WeChat Pay and Alipay, signing its notifications as the
providers do) served beside the lanes, and the visitor who pays by phone at the unattended exit.

The visitor "scans" the lane's static QR code: the phone asks central for the order of the vehicle waiting at that
lane (what the driver's page does when a provider is picked), then pays at the provider's checkout (the simulator's
``/sim/pay``). The provider notifies central, central pushes the settlement to the edge, and the edge opens once the
payment is in its journal. Every other waiting vehicle is for the booth's collector.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path

import httpx
import uvicorn

from parking.money import format_amount
from simulators.payment_provider import PaymentProviderSimulator, create_app
from simulators.traffic import Attended, Decision, Operator, Visit

_LOGGER = logging.getLogger(__name__)
PROVIDER = "wechat"


class ProviderServer:
    """The provider simulator on ``port``, in this event loop, until :meth:`stop`."""

    def __init__(self, port: int) -> None:
        self.simulator = PaymentProviderSimulator()
        self.url = self.simulator.base_url = f"http://127.0.0.1:{port}"
        self._server = uvicorn.Server(uvicorn.Config(create_app(self.simulator), host="127.0.0.1", port=port,
                                                     log_level="warning", lifespan="off"))  # fmt: skip
        self._task: asyncio.Task[None] | None = None

    def central_env(self, keys: Path, central_url: str) -> dict[str, str]:
        """Central's settings for both providers (the merchant's key files written into ``keys``)."""
        settings = self.simulator.merchant_files(keys) | {"payment_notify_base_url": central_url}
        return {f"PARKGATE_{name.upper()}": value for name, value in settings.items()}

    async def start(self, within: float = 10.0) -> None:
        self._task = asyncio.create_task(self._server.serve(), name="payment-provider")
        deadline = time.monotonic() + within
        while not self._server.started:
            if self._task.done() or time.monotonic() > deadline:
                raise RuntimeError(f"the payment provider simulator did not start on {self.url}")
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        if self._task is not None:
            self._server.should_exit = True
            with contextlib.suppress(Exception):
                async with asyncio.timeout(5):
                    await self._task


class ScanToPay:
    """The visitors of ``scanners`` (visit numbers) pay by phone at an unattended exit; the booth attends the rest."""

    def __init__(self, booth: Operator, central_url: str, provider: ProviderServer, car_park: str,
                 scanners: frozenset[int]) -> None:  # fmt: skip
        self.booth, self.central_url, self.provider, self.car_park = booth, central_url, provider, car_park
        self.scanners = scanners
        self.paid = 0
        self.paid_minor = 0

    async def attend(self, visit: Visit, decision: Decision) -> Attended | None:
        if visit.number not in self.scanners or not decision.reason.endswith(" due"):
            return await self.booth.attend(visit, decision)
        try:
            return await self._scan_and_pay(decision.lane)
        except (httpx.HTTPError, KeyError, ValueError) as err:
            _LOGGER.warning("scan-to-pay at %s: %s", decision.lane, err)
            return None

    async def _scan_and_pay(self, lane: str, within: float = 10.0) -> Attended | None:
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(timeout=10) as client:
            while True:  # central learns of the waiting vehicle on the edge's next poll
                body = {"car_park": self.car_park, "lane": lane, "provider": PROVIDER}
                ordered = await client.post(f"{self.central_url}/api/v1/pay/orders", json=body)
                if ordered.status_code == 200 or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.5)
            if ordered.status_code != 200:
                return Attended(f"scan-to-pay: no order ({ordered.status_code} {ordered.text[:100]})", by="phone")
            order = ordered.json()
            paid = await client.post(f"{self.provider.url}/sim/pay", params={"code": order["qr_code"]})
        if 'data-central="200"' not in paid.text:
            return Attended(f"scan-to-pay: the provider's notification was not accepted ({paid.text[:80]})", by="phone")
        self.paid += 1
        self.paid_minor += int(order["amount"])
        amount = format_amount(int(order["amount"]), "CNY")
        return Attended(f"scanned the lane's code, paid {amount} by WeChat Pay (order {order['id']})", by="phone")
