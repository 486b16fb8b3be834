"""Alipay through python-alipay-sdk: face-to-face precreate (a QR to scan) or a page pay URL, the asynchronous
notification (RSA2 over the sorted parameters without ``sign`` and ``sign_type``), refunds and the daily trade
statement (``alipay.data.dataservice.bill.downloadurl.query``, a zip of CSV files).

The SDK's gateway is set from the settings so that the tests point it at the provider simulator.
"""

from __future__ import annotations

import csv
import io
import logging
import urllib.request
import zipfile
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

from alipay import AliPay

from central.core.config import Settings
from central.payments.amounts import fen_to_yuan, yuan_to_fen
from central.payments.providers import (
    Checkout,
    NotificationRefused,
    OrderRequest,
    PaidNotice,
    ProviderError,
    Refund,
    Statement,
    StatementEntry,
    read_key_file,
    require_settings,
)

_LOGGER = logging.getLogger(__name__)

CHINA = ZoneInfo("Asia/Shanghai")
_TIME = "%Y-%m-%d %H:%M:%S"


class AlipayProvider:
    """The adapter for Alipay's open API (RSA2, public-key mode)."""

    name = "alipay"

    def __init__(self, settings: Settings, max_age: timedelta) -> None:
        require_settings(
            "Alipay",
            {
                "PARKGATE_ALIPAY_APPID": settings.alipay_appid,
                "PARKGATE_ALIPAY_APP_KEY_FILE": settings.alipay_app_key_file,
                "PARKGATE_ALIPAY_PUBLIC_KEY_FILE": settings.alipay_public_key_file,
            },
        )
        self.max_age = max_age
        self.appid = str(settings.alipay_appid)
        self.gateway = settings.alipay_gateway
        try:
            self.client = AliPay(
                appid=self.appid,
                app_private_key_string=read_key_file("Alipay", settings.alipay_app_key_file, "app key"),
                alipay_public_key_string=read_key_file("Alipay", settings.alipay_public_key_file, "Alipay public key"),
                sign_type="RSA2",
            )  # fmt: skip
        except (ValueError, IndexError, TypeError) as err:
            raise ValueError(f"Alipay: the keys do not load: {err}") from err
        self.client._gateway = self.gateway

    def _call(self, what: str, call: Any, **kwargs: Any) -> dict[str, Any]:
        try:
            answer: dict[str, Any] = call(**kwargs)
        except Exception as err:  # urllib's errors, AliPayException, AliPayValidationError (bad signature)
            raise ProviderError(self.name, f"{what}: {type(err).__name__}: {err}") from err
        if answer.get("code") != "10000":
            raise ProviderError(self.name, f"{what}: {answer.get('code')} {answer.get('sub_code', '')} "
                                           f"{answer.get('sub_msg', answer.get('msg', ''))}")  # fmt: skip
        return answer

    def place_order(self, order: OrderRequest) -> Checkout:
        """Precreate answers a ``qr_code``; the page channel a signed URL of the gateway to open."""
        expires = order.expires_at.astimezone(CHINA).strftime(_TIME)
        if order.channel == "page":
            query = self.client.api_alipay_trade_wap_pay(
                subject=order.description, out_trade_no=order.order_id, total_amount=fen_to_yuan(order.amount),
                notify_url=order.notify_url, time_expire=expires,
            )  # fmt: skip
            return Checkout(pay_url=f"{self.gateway}?{query}")
        if order.channel != "native":
            raise ProviderError(self.name, f"no channel {order.channel!r}: native or page")
        answer = self._call(
            "precreate", self.client.api_alipay_trade_precreate, subject=order.description,
            out_trade_no=order.order_id, total_amount=fen_to_yuan(order.amount), notify_url=order.notify_url,
            time_expire=expires,
        )  # fmt: skip
        return Checkout(qr_code=str(answer.get("qr_code", "")))

    def read_notification(self, headers: dict[str, str], body: bytes, now: datetime) -> PaidNotice:
        """Refuse a notification whose RSA2 signature fails (401) or whose notify_time is too old (400)."""
        try:
            data = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True))
        except (UnicodeDecodeError, ValueError) as err:
            raise NotificationRefused("malformed", f"not a form body: {err}", 400) from err
        signature = data.pop("sign", "")
        notice_id = data.get("notify_id", "")[:64] or None
        if not signature:
            raise NotificationRefused("signature", "no sign parameter", 401, notice_id)
        if data.get("app_id") != self.appid:
            raise NotificationRefused("signature", f"app_id {data.get('app_id')!r} is not ours", 401, notice_id)
        try:
            verified = self.client.verify(dict(data), signature)
        except Exception as err:  # an unknown sign_type, a signature that is not base64
            raise NotificationRefused("signature", f"not verifiable: {err}", 401, notice_id) from err
        if not verified:
            raise NotificationRefused("signature", "the RSA2 signature does not verify", 401, notice_id)
        try:
            signed_at = datetime.strptime(data["notify_time"], _TIME).replace(tzinfo=CHINA).astimezone(UTC)
            paid_at = datetime.strptime(data.get("gmt_payment") or data["notify_time"], _TIME).replace(tzinfo=CHINA)
            amount = yuan_to_fen(data["total_amount"])
            order_id, trade_no, state = data["out_trade_no"], data["trade_no"], data["trade_status"]
        except (KeyError, ValueError) as err:
            raise NotificationRefused("malformed", f"missing or bad {err}", 400, notice_id) from err
        if abs(now - signed_at) > self.max_age:
            raise NotificationRefused("stale", f"notify_time {data['notify_time']}: outside the allowed age", 400,
                                      notice_id)  # fmt: skip
        return PaidNotice(
            notice_id=notice_id or f"{trade_no}:{state}", order_id=order_id, provider_trade_no=trade_no,
            amount=amount, paid_at=paid_at.astimezone(UTC), succeeded=state in ("TRADE_SUCCESS", "TRADE_FINISHED"),
            state=state, signed_at=signed_at,
        )  # fmt: skip

    def acknowledgement(self) -> tuple[int, str, str]:
        return 200, "success", "text/plain"

    def refund(self, order_id: str, refund_id: str, amount: int, total: int, reason: str) -> Refund:
        answer = self._call(
            "refund", self.client.api_alipay_trade_refund, refund_amount=fen_to_yuan(amount), out_trade_no=order_id,
            out_request_no=refund_id, refund_reason=reason[:80],
        )  # fmt: skip
        return Refund(refund_id, str(answer.get("trade_no", "")), "SUCCESS" if answer.get("fund_change") else "")

    def statement(self, day: date) -> Statement:
        """Ask for the day's trade bill URL, download the zip and read its detail CSV (GBK, like Alipay's)."""
        answer = self._call(
            "bill url", self.client.server_api, api_name="alipay.data.dataservice.bill.downloadurl.query",
            biz_content={"bill_type": "trade", "bill_date": day.isoformat()},
        )  # fmt: skip
        url = str(answer.get("bill_download_url", ""))
        if not url.startswith(("http://", "https://")):
            raise ProviderError(self.name, f"bill url: {url!r} is not a URL")
        try:
            with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - scheme checked above
                raw = response.read(32 * 1024 * 1024)
            archive = zipfile.ZipFile(io.BytesIO(raw))
            name = next(n for n in archive.namelist() if n.endswith("业务明细.csv"))
            text = archive.read(name).decode("gbk")
        except (OSError, zipfile.BadZipFile, StopIteration, UnicodeDecodeError) as err:
            raise ProviderError(self.name, f"bill download: {type(err).__name__}: {err}") from err
        return Statement(self.name, day, parse_trade_detail(text))


def parse_trade_detail(text: str) -> list[StatementEntry]:
    """The detail lines of an Alipay trade bill: ``#`` lines are comments; 业务类型 交易 or 退款."""
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    rows = list(csv.reader(lines))
    if not rows or "支付宝交易号" not in [cell.strip() for cell in rows[0]]:
        raise ProviderError("alipay", "trade bill: the header line is missing")
    column = {cell.strip(): index for index, cell in enumerate(rows[0])}
    entries: list[StatementEntry] = []
    for number, row in enumerate(rows[1:], start=2):
        cells = {name: row[index].strip() if index < len(row) else "" for name, index in column.items()}
        try:
            refund = cells["业务类型"] == "退款"
            amount = abs(yuan_to_fen(cells["订单金额（元）"]))
            at = datetime.strptime(cells["完成时间"], _TIME).replace(tzinfo=CHINA).astimezone(UTC)
            fee = abs(yuan_to_fen(cells.get("服务费（元）") or "0"))
        except (KeyError, ValueError) as err:
            raise ProviderError("alipay", f"trade bill line {number}: {err}") from err
        entries.append(StatementEntry(
            kind="refund" if refund else "payment", order_id=cells["商户订单号"],
            provider_trade_no=cells["支付宝交易号"], amount=amount, state=cells["业务类型"], at=at, fee=fee,
        ))  # fmt: skip
    return entries
