"""WeChat Pay API v3 through the wechatpayv3 SDK: native (QR), JSAPI and H5 orders, the payment notification
(platform signature over timestamp, nonce and body; the resource decrypted with AES-256-GCM under the APIv3 key),
refunds and the daily trade statement (交易账单).

The SDK runs in "WeChat Pay public key" mode (a public key and its id, ``PUB_KEY_ID_…``), so nothing is fetched at
start-up; its gateway is set from the settings so that the tests point it at the provider simulator.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import logging
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from wechatpayv3 import WeChatPay, WeChatPayType

from central.core.config import Settings
from central.payments.amounts import yuan_to_fen
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
_CHANNELS = {"native": WeChatPayType.NATIVE, "jsapi": WeChatPayType.JSAPI, "h5": WeChatPayType.H5}


class WeChatPayProvider:
    """The adapter for WeChat Pay API v3 (direct merchant)."""

    name = "wechat"

    def __init__(self, settings: Settings, max_age: timedelta) -> None:
        require_settings(
            "WeChat Pay",
            {
                "PARKGATE_WECHAT_MCHID": settings.wechat_mchid,
                "PARKGATE_WECHAT_APPID": settings.wechat_appid,
                "PARKGATE_WECHAT_MERCHANT_SERIAL": settings.wechat_merchant_serial,
                "PARKGATE_WECHAT_MERCHANT_KEY_FILE": settings.wechat_merchant_key_file,
                "PARKGATE_WECHAT_APIV3_KEY_FILE": settings.wechat_apiv3_key_file,
                "PARKGATE_WECHAT_PLATFORM_PUBLIC_KEY_FILE": settings.wechat_platform_public_key_file,
                "PARKGATE_WECHAT_PLATFORM_PUBLIC_KEY_ID": settings.wechat_platform_public_key_id,
            },
        )
        self.max_age = max_age
        self.mchid = str(settings.wechat_mchid)
        apiv3_key = read_key_file("WeChat Pay", settings.wechat_apiv3_key_file, "APIv3 key")
        if len(apiv3_key.encode()) != 32:
            raise ValueError("WeChat Pay: the APIv3 key must be 32 bytes")
        try:
            self.client = WeChatPay(
                wechatpay_type=WeChatPayType.NATIVE, mchid=self.mchid,
                private_key=read_key_file("WeChat Pay", settings.wechat_merchant_key_file, "merchant key"),
                cert_serial_no=str(settings.wechat_merchant_serial), appid=str(settings.wechat_appid),
                apiv3_key=apiv3_key, timeout=(5, 10),
                public_key=read_key_file("WeChat Pay", settings.wechat_platform_public_key_file, "platform public key"),
                public_key_id=str(settings.wechat_platform_public_key_id),
            )  # fmt: skip
        except Exception as err:  # the SDK raises bare Exceptions for bad keys
            raise ValueError(f"WeChat Pay: {err}") from err
        self.client._core._gate_way = settings.wechat_base_url.rstrip("/")

    def _call(self, what: str, call: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            code, message = call(*args, **kwargs)
        except Exception as err:  # requests' errors and the SDK's "failed to verify the signature"
            raise ProviderError(self.name, f"{what}: {err}") from err
        if not 200 <= code < 300:
            raise ProviderError(self.name, f"{what}: HTTP {code}: {str(message)[:300]}")
        return message

    def place_order(self, order: OrderRequest) -> Checkout:
        """A native order answers a ``code_url`` for the QR; JSAPI a ``prepay_id``; H5 an ``h5_url``."""
        channel = _CHANNELS.get(order.channel)
        if channel is None:
            raise ProviderError(self.name, f"no channel {order.channel!r}: native, jsapi or h5")
        extra: dict[str, Any] = {}
        if channel is WeChatPayType.JSAPI:
            extra["payer"] = {"openid": order.payer_id}
        if channel is WeChatPayType.H5:
            extra["scene_info"] = {"payer_client_ip": order.client_ip or "127.0.0.1", "h5_info": {"type": "Wap"}}
        message = self._call(
            "order", self.client.pay, description=order.description[:127], out_trade_no=order.order_id,
            amount={"total": order.amount, "currency": order.currency}, notify_url=order.notify_url,
            time_expire=order.expires_at.astimezone(CHINA).isoformat(timespec="seconds"), pay_type=channel, **extra,
        )  # fmt: skip
        answer = json.loads(message)
        return Checkout(qr_code=answer.get("code_url"), pay_url=answer.get("h5_url"), prepay_id=answer.get("prepay_id"))

    def read_notification(self, headers: dict[str, str], body: bytes, now: datetime) -> PaidNotice:
        """Refuse a notification whose signature fails (401) or that was signed outside the allowed age (400)."""
        lower = {k.lower(): v for k, v in headers.items()}
        try:
            signed_at = datetime.fromtimestamp(int(lower.get("wechatpay-timestamp", "")), UTC)
        except (ValueError, OverflowError, OSError) as err:
            raise NotificationRefused("malformed", "Wechatpay-Timestamp missing or not a time", 400) from err
        try:
            result = self.client.callback(lower, body)
        except Exception as err:  # an unknown signature type or algorithm
            raise NotificationRefused("signature", f"not verifiable: {err}", 401) from err
        if not result:
            raise NotificationRefused("signature", "the signature or the encrypted resource does not verify", 401)
        notice_id = str(result.get("id", ""))[:64]
        if abs(now - signed_at) > self.max_age:
            raise NotificationRefused("stale", f"signed at {signed_at.isoformat()}: outside the allowed age", 400,
                                      notice_id)  # fmt: skip
        resource = result.get("resource") or {}
        try:
            amount = int(resource["amount"]["total"])
            paid_at = datetime.fromisoformat(str(resource.get("success_time") or now.isoformat()))
            return PaidNotice(
                notice_id=notice_id, order_id=str(resource["out_trade_no"]),
                provider_trade_no=str(resource["transaction_id"]), amount=amount, paid_at=paid_at.astimezone(UTC),
                succeeded=resource.get("trade_state") == "SUCCESS", state=str(resource.get("trade_state", "")),
                signed_at=signed_at,
            )  # fmt: skip
        except (KeyError, TypeError, ValueError) as err:
            raise NotificationRefused("malformed", f"resource lacks {err}", 400, notice_id) from err

    def acknowledgement(self) -> tuple[int, str, str]:
        return 200, json.dumps({"code": "SUCCESS", "message": "成功"}), "application/json"

    def refund(self, order_id: str, refund_id: str, amount: int, total: int, reason: str) -> Refund:
        message = self._call(
            "refund", self.client.refund, out_refund_no=refund_id, out_trade_no=order_id, reason=reason[:80],
            amount={"refund": amount, "total": total, "currency": "CNY"},
        )  # fmt: skip
        answer = json.loads(message)
        return Refund(refund_id, str(answer.get("refund_id", "")), str(answer.get("status", "")))

    def statement(self, day: date) -> Statement:
        """Apply for the trade bill of ``day``, download it (gzip) and read its CSV."""
        message = self._call("trade bill", self.client.trade_bill, bill_date=day.isoformat())
        url = json.loads(message).get("download_url")
        if not url:
            raise ProviderError(self.name, "trade bill: no download_url")
        content = self._call("bill download", self.client.download_bill, url)
        raw = content if isinstance(content, bytes) else str(content).encode()
        try:
            text = gzip.decompress(raw).decode("utf-8-sig")
        except (OSError, UnicodeDecodeError) as err:
            raise ProviderError(self.name, f"bill download: not a gzip UTF-8 file: {err}") from err
        return Statement(self.name, day, parse_trade_bill(text))


def _cell(value: str) -> str:
    return value[1:] if value.startswith("`") else value  # every field of the bill starts with a backtick


def parse_trade_bill(text: str) -> list[StatementEntry]:
    """The lines of a WeChat trade bill (type ALL): one per payment, one per refund; the totals are skipped."""
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or rows[0][:1] != ["交易时间"]:
        raise ProviderError("wechat", "trade bill: the header line is missing")
    header = rows[0]
    column = {name: index for index, name in enumerate(header)}
    entries: list[StatementEntry] = []
    for number, row in enumerate(rows[1:], start=2):
        if row and row[0] in ("总交易单数",):
            break
        if not row:
            continue
        cells = {name: _cell(row[index]) if index < len(row) else "" for name, index in column.items()}
        try:
            at = datetime.strptime(cells["交易时间"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=CHINA).astimezone(UTC)
            refund = cells["交易状态"] == "REFUND"
            amount = yuan_to_fen(cells["退款金额" if refund else "应结订单金额"])
            fee = yuan_to_fen(cells.get("手续费") or "0")
        except (KeyError, ValueError) as err:
            raise ProviderError("wechat", f"trade bill line {number}: {err}") from err
        entries.append(StatementEntry(
            kind="refund" if refund else "payment", order_id=cells["商户订单号"], provider_trade_no=cells["微信订单号"],
            amount=amount, state=cells["交易状态"], at=at, fee=fee,
        ))  # fmt: skip
    return entries
