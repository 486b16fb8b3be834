"""A payment provider simulator that speaks WeChat Pay API v3 and Alipay's open API closely enough for the real
SDKs (wechatpayv3, python-alipay-sdk) that central's adapters use.

- WeChat Pay: checks the merchant's ``Authorization`` (RSA-SHA256 over method, path, timestamp, nonce, body),
  signs every answer with its platform key (``Wechatpay-Signature``/``-Timestamp``/``-Nonce``/``-Serial``), and
  notifies with the resource encrypted by AES-256-GCM under the APIv3 key; trade bills are gzip CSV with the
  provider's backtick-prefixed fields.
- Alipay: checks the app's RSA2 signature over the sorted parameters, signs the answer's response object, and
  notifies with a form signed over the sorted parameters (``sign`` and ``sign_type`` left out); trade bills are a
  zip holding a GBK detail CSV.

Keys are generated at start (``cryptography``); :meth:`PaymentProviderSimulator.merchant_files` writes the
merchant's side (its private keys, the providers' public keys, the APIv3 key) for central's settings. A driver
"scanning" is :meth:`pay`, which sends the notification to the order's ``notify_url``; :meth:`notify` can resend
it, sign it long ago (a replay) or with another key (a forgery).

    python -m simulators.payment_provider --port 8480 --keys /tmp/provider-keys
"""

from __future__ import annotations

import argparse
import base64
import gzip
import io
import json
import logging
import secrets
import threading
import time
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode
from zoneinfo import ZoneInfo

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

_LOGGER = logging.getLogger(__name__)

CHINA = ZoneInfo("Asia/Shanghai")
_TIME = "%Y-%m-%d %H:%M:%S"
SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"
WECHAT_BILL_COLUMNS = (
    "交易时间", "公众账号ID", "商户号", "特约商户号", "设备号", "微信订单号", "商户订单号", "用户标识", "交易类型",
    "交易状态", "付款银行", "货币种类", "应结订单金额", "代金券金额", "微信退款单号", "商户退款单号", "退款金额",
    "充值券退款金额", "退款类型", "退款状态", "商品名称", "商户数据包", "手续费", "费率", "订单金额", "申请退款金额",
    "费率备注",
)  # fmt: skip
ALIPAY_BILL_COLUMNS = (
    "支付宝交易号", "商户订单号", "业务类型", "商品名称", "创建时间", "完成时间", "门店编号", "门店名称", "操作员",
    "终端号", "对方账户", "订单金额（元）", "商家实收（元）", "支付宝红包（元）", "集分宝（元）", "支付宝优惠（元）",
    "商家优惠（元）", "券核销金额（元）", "券名称", "商家红包消费金额（元）", "卡消费金额（元）", "退款批次号/请求号",
    "服务费（元）", "分润（元）", "备注",
)  # fmt: skip


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _private_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()  # fmt: skip


def _public_pem(key: rsa.RSAPrivateKey) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()  # fmt: skip


def _sign(key: rsa.RSAPrivateKey, text: str) -> str:
    return base64.b64encode(key.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()


def _verify(key: rsa.RSAPublicKey, text: str, signature: str) -> bool:
    try:
        key.verify(base64.b64decode(signature), text.encode(), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


@dataclass
class SimOrder:
    provider: str
    out_trade_no: str
    amount: int
    notify_url: str
    description: str
    trade_no: str
    state: str = "NOTPAY"
    paid_at: datetime | None = None
    refunds: list[tuple[str, int, datetime]] = field(default_factory=list)
    last_notification: tuple[dict[str, str], bytes] | None = None


class PaymentProviderSimulator:
    """Both providers' merchant APIs for one merchant, with the keys made at start."""

    def __init__(self, *, mchid: str = "1900000109", wechat_appid: str = "wxd678efh567hg6787",
                 alipay_appid: str = "2021000000000001") -> None:  # fmt: skip
        self.mchid, self.wechat_appid, self.alipay_appid = mchid, wechat_appid, alipay_appid
        self.platform_key, self.merchant_key = _key(), _key()
        self.alipay_key, self.app_key = _key(), _key()
        self.merchant_serial = secrets.token_hex(20).upper()
        self.public_key_id = "PUB_KEY_ID_" + secrets.token_hex(12).upper()
        self.apiv3_key = secrets.token_hex(16)  # 32 ASCII characters, as the merchant platform makes it
        self.orders: dict[str, SimOrder] = {}
        self.statement_changes: dict[str, int] = {}  # out_trade_no -> amount written on the statement
        self.statement_extra: list[SimOrder] = []
        self.base_url = ""
        self.notifications: list[tuple[str, int]] = []  # (out_trade_no, central's HTTP status)
        self.reachable = True
        self._lock = threading.Lock()
        self._bills: dict[str, bytes] = {}

    def merchant_files(self, folder: Path) -> dict[str, str]:
        """Write the merchant's key material into ``folder``; answers central's settings naming the files."""
        folder.mkdir(parents=True, exist_ok=True)
        files = {
            "wechat_merchant_key_file": ("wechat-merchant.pem", _private_pem(self.merchant_key)),
            "wechat_apiv3_key_file": ("wechat-apiv3.key", self.apiv3_key),
            "wechat_platform_public_key_file": ("wechat-platform-public.pem", _public_pem(self.platform_key)),
            "alipay_app_key_file": ("alipay-app.pem", _private_pem(self.app_key)),
            "alipay_public_key_file": ("alipay-public.pem", _public_pem(self.alipay_key)),
        }
        settings: dict[str, str] = {}
        for name, (file_name, text) in files.items():
            path = folder / file_name
            path.write_text(text, encoding="utf-8")
            path.chmod(0o600)
            settings[name] = str(path)
        return settings | {
            "wechat_mchid": self.mchid, "wechat_appid": self.wechat_appid,
            "wechat_merchant_serial": self.merchant_serial, "wechat_platform_public_key_id": self.public_key_id,
            "wechat_base_url": self.base_url, "alipay_appid": self.alipay_appid,
            "alipay_gateway": f"{self.base_url}/gateway.do",
        }  # fmt: skip

    # -- WeChat Pay ---------------------------------------------------------------------------------------------

    def _wechat_headers(self, body: str, at: datetime | None = None,
                        key: rsa.RSAPrivateKey | None = None) -> dict[str, str]:  # fmt: skip
        timestamp = str(int((at or datetime.now(UTC)).timestamp()))
        nonce = secrets.token_hex(16).upper()
        signature = _sign(key or self.platform_key, f"{timestamp}\n{nonce}\n{body}\n")
        return {"Wechatpay-Timestamp": timestamp, "Wechatpay-Nonce": nonce, "Wechatpay-Signature": signature,
                "Wechatpay-Serial": self.public_key_id, "Wechatpay-Signature-Type": SIGNATURE_TYPE}  # fmt: skip

    def wechat_answer(self, status: int, payload: dict[str, Any]) -> Response:
        body = json.dumps(payload, ensure_ascii=False)
        return Response(body, status_code=status, media_type="application/json", headers=self._wechat_headers(body))

    def wechat_authorized(self, method: str, path: str, authorization: str, body: str) -> bool:
        """The merchant's signature: ``WECHATPAY2-SHA256-RSA2048 mchid=…,nonce_str=…,signature=…,timestamp=…``."""
        scheme, _, rest = authorization.partition(" ")
        if scheme != SIGNATURE_TYPE:
            return False
        fields = dict(part.split("=", 1) for part in rest.split(",") if "=" in part)
        values = {k.strip(): v.strip().strip('"') for k, v in fields.items()}
        if values.get("mchid") != self.mchid or values.get("serial_no") != self.merchant_serial:
            return False
        if abs(time.time() - int(values.get("timestamp", "0") or 0)) > 300:
            return False
        text = f"{method}\n{path}\n{values.get('timestamp')}\n{values.get('nonce_str')}\n{body}\n"
        return _verify(self.merchant_key.public_key(), text, values.get("signature", ""))

    def wechat_order(self, channel: str, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        out_trade_no, amount = str(request.get("out_trade_no", "")), int(request.get("amount", {}).get("total", 0))
        if request.get("mchid") != self.mchid or request.get("appid") != self.wechat_appid:
            return 400, {"code": "PARAM_ERROR", "message": "mchid与appid不匹配"}
        with self._lock:
            order = self.orders.get(out_trade_no)
            if order is not None and order.amount != amount:
                return 400, {"code": "INVALID_REQUEST", "message": "201 商户订单号重复"}
            if order is not None and order.state == "SUCCESS":
                return 400, {"code": "ORDERPAID", "message": "该订单已支付"}
            if order is None:
                order = SimOrder("wechat", out_trade_no, amount, str(request.get("notify_url", "")),
                                 str(request.get("description", "")), "42000" + secrets.token_hex(12))  # fmt: skip
                self.orders[out_trade_no] = order
        prepay = "wx" + order.trade_no[5:25]
        if channel == "native":
            return 200, {"code_url": f"weixin://wxpay/bizpayurl?pr={prepay}"}
        if channel == "h5":
            return 200, {"h5_url": f"{self.base_url}/h5pay?prepay_id={prepay}"}
        return 200, {"prepay_id": prepay}

    def wechat_notification(
        self, order: SimOrder, at: datetime, key: rsa.RSAPrivateKey | None
    ) -> tuple[dict[str, str], bytes]:
        paid_at = (order.paid_at or at).astimezone(CHINA).isoformat(timespec="seconds")
        resource = {
            "mchid": self.mchid, "appid": self.wechat_appid, "out_trade_no": order.out_trade_no,
            "transaction_id": order.trade_no, "trade_type": "NATIVE", "trade_state": "SUCCESS",
            "trade_state_desc": "支付成功", "bank_type": "OTHERS", "success_time": paid_at,
            "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
            "amount": {"total": order.amount, "payer_total": order.amount, "currency": "CNY", "payer_currency": "CNY"},
        }  # fmt: skip
        nonce = secrets.token_hex(6)
        sealed = AESGCM(self.apiv3_key.encode()).encrypt(nonce.encode(), json.dumps(resource).encode(), b"transaction")
        body = json.dumps({
            "id": "EV-" + secrets.token_hex(10), "create_time": at.astimezone(CHINA).isoformat(timespec="seconds"),
            "resource_type": "encrypt-resource", "event_type": "TRANSACTION.SUCCESS", "summary": "支付成功",
            "resource": {"original_type": "transaction", "algorithm": "AEAD_AES_256_GCM", "nonce": nonce,
                         "associated_data": "transaction", "ciphertext": base64.b64encode(sealed).decode()},
        }, ensure_ascii=False)  # fmt: skip
        headers = self._wechat_headers(body, at, key) | {"Content-Type": "application/json"}
        return headers, body.encode()

    def trade_bill(self, day: date) -> bytes:
        """The trade bill of ``day`` (China time): gzip of the CSV WeChat Pay writes."""
        header = ",".join(WECHAT_BILL_COLUMNS)
        rows, total, refunded = [header], 0, 0
        for order, amount in self._statement_orders("wechat", day):
            fee = f"{amount * 6 / 100000:.5f}"
            at = (order.paid_at or datetime.now(UTC)).astimezone(CHINA).strftime(_TIME)
            cells = [at, self.wechat_appid, self.mchid, "0", "", order.trade_no, order.out_trade_no, "oUpF8u", "NATIVE",
                     "SUCCESS", "OTHERS", "CNY", _yuan(amount), "0.00", "0", "0", "0.00", "0.00", "", "",
                     order.description, "", fee, "0.60%", _yuan(amount), "0.00", ""]  # fmt: skip
            rows.append(",".join("`" + cell for cell in cells))
            total += amount
            for refund_no, refund, refund_at in order.refunds:
                cells = [refund_at.astimezone(CHINA).strftime(_TIME), self.wechat_appid, self.mchid, "0", "",
                         order.trade_no, order.out_trade_no, "oUpF8u", "NATIVE", "REFUND", "OTHERS", "CNY", "0.00",
                         "0.00", "50300" + refund_no[-10:], refund_no, _yuan(refund), "0.00", "ORIGINAL", "SUCCESS",
                         order.description, "", "0.00000", "0.60%", _yuan(order.amount), _yuan(refund), ""]  # fmt: skip
                rows.append(",".join("`" + cell for cell in cells))
                refunded += refund
        rows.append("总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额")
        rows.append(f"`{len(rows) - 2},`{_yuan(total)},`{_yuan(refunded)},`0.00,`0.00000,`{_yuan(total)},"
                    f"`{_yuan(refunded)}")  # fmt: skip
        return gzip.compress(("\n".join(rows) + "\n").encode("utf-8"))

    # -- Alipay -------------------------------------------------------------------------------------------------

    def alipay_answer(self, method: str, payload: dict[str, Any]) -> Response:
        inner = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        name = method.replace(".", "_") + "_response"
        body = f'{{"{name}":{inner},"sign":"{_sign(self.alipay_key, inner)}"}}'
        return Response(body, media_type="application/json;charset=utf-8")

    def alipay_request(self, params: dict[str, str]) -> tuple[str, dict[str, Any]]:
        method = params.get("method", "")
        signature = params.pop("sign", "")
        text = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
        if params.get("app_id") != self.alipay_appid or not _verify(self.app_key.public_key(), text, signature):
            return method, {"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-signature",
                            "sub_msg": "验签出错"}  # fmt: skip
        biz = json.loads(params.get("biz_content") or "{}")
        if method in ("alipay.trade.precreate", "alipay.trade.wap.pay"):
            out_trade_no, amount = str(biz.get("out_trade_no", "")), round(float(biz.get("total_amount", 0)) * 100)
            with self._lock:
                order = self.orders.get(out_trade_no)
                if order is not None and order.amount != amount:
                    return method, {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.CONTEXT_INCONSISTENT",
                                    "sub_msg": "交易信息被篡改"}  # fmt: skip
                if order is None:
                    order = SimOrder("alipay", out_trade_no, amount, params.get("notify_url", ""),
                                     str(biz.get("subject", "")), datetime.now(CHINA).strftime("%Y%m%d")
                                     + "22001" + secrets.token_hex(7))  # fmt: skip
                    self.orders[out_trade_no] = order
            return method, {"code": "10000", "msg": "Success", "out_trade_no": out_trade_no,
                            "qr_code": f"https://qr.alipay.com/{order.trade_no[-16:]}"}  # fmt: skip
        if method == "alipay.trade.refund":
            order = self.orders.get(str(biz.get("out_trade_no", "")))
            amount = round(float(biz.get("refund_amount", 0)) * 100)
            if order is None or order.state != "SUCCESS" or amount > order.amount - sum(r for _, r, _ in order.refunds):
                return method, {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_NOT_ALLOW_REFUND"}
            order.refunds.append((str(biz.get("out_request_no", "")), amount, datetime.now(UTC)))
            return method, {"code": "10000", "msg": "Success", "trade_no": order.trade_no, "fund_change": "Y",
                            "out_trade_no": order.out_trade_no, "refund_fee": _yuan(amount)}  # fmt: skip
        if method == "alipay.data.dataservice.bill.downloadurl.query":
            token = secrets.token_hex(8)
            self._bills[token] = self.alipay_bill(date.fromisoformat(str(biz.get("bill_date"))))
            return method, {"code": "10000", "msg": "Success", "bill_download_url": f"{self.base_url}/bill/{token}"}
        return method, {"code": "40004", "msg": "Business Failed", "sub_code": "isv.invalid-method"}

    def alipay_notification(
        self, order: SimOrder, at: datetime, key: rsa.RSAPrivateKey | None
    ) -> tuple[dict[str, str], bytes]:
        params = {
            "notify_time": at.astimezone(CHINA).strftime(_TIME), "notify_type": "trade_status_sync",
            "notify_id": secrets.token_hex(16), "app_id": self.alipay_appid, "charset": "utf-8", "version": "1.0",
            "trade_no": order.trade_no, "out_trade_no": order.out_trade_no, "trade_status": "TRADE_SUCCESS",
            "total_amount": _yuan(order.amount), "receipt_amount": _yuan(order.amount), "subject": order.description,
            "gmt_payment": (order.paid_at or at).astimezone(CHINA).strftime(_TIME), "buyer_id": "2088102177846880",
        }  # fmt: skip
        text = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
        params |= {"sign_type": "RSA2", "sign": _sign(key or self.alipay_key, text)}
        return {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}, urlencode(params).encode()

    def alipay_bill(self, day: date) -> bytes:
        header = ",".join(ALIPAY_BILL_COLUMNS)
        lines = ["#支付宝业务明细查询", f"#账号：[{self.alipay_appid}]", f"#起始日期：[{day} 00:00:00]", header]
        for order, amount in self._statement_orders("alipay", day):
            at = (order.paid_at or datetime.now(UTC)).astimezone(CHINA).strftime(_TIME)
            lines.append(",".join([order.trade_no, order.out_trade_no, "交易", order.description, at, at, "", "", "",
                                   "", "buy***@example.com", _yuan(amount), _yuan(amount), "0.00", "0.00", "0.00",
                                   "0.00", "0.00", "", "0.00", "0.00", "", f"-{_yuan(amount * 6 // 1000)}", "0.00",
                                   ""]))  # fmt: skip
            for refund_no, refund, refund_at in order.refunds:
                when = refund_at.astimezone(CHINA).strftime(_TIME)
                lines.append(",".join([order.trade_no, order.out_trade_no, "退款", order.description, at, when, "",
                                       "", "", "", "buy***@example.com", f"-{_yuan(refund)}", f"-{_yuan(refund)}",
                                       "0.00", "0.00", "0.00", "0.00", "0.00", "", "0.00", "0.00", refund_no, "0.00",
                                       "0.00", ""]))  # fmt: skip
        lines.append("#-----------------------------------------业务明细列表结束------------------------------------")
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as bundle:
            bundle.writestr(f"{self.alipay_appid}_{day:%Y%m%d}_业务明细.csv", "\n".join(lines).encode("gbk"))
        return archive.getvalue()

    # -- the driver and the test's hands ------------------------------------------------------------------------

    def _statement_orders(self, provider: str, day: date) -> list[tuple[SimOrder, int]]:
        paid = [o for o in self.orders.values() if o.provider == provider and o.paid_at is not None
                and o.paid_at.astimezone(CHINA).date() == day]  # fmt: skip
        paid += [o for o in self.statement_extra if o.provider == provider]
        return [(o, self.statement_changes.get(o.out_trade_no, o.amount)) for o in paid]

    def order_by_code(self, code: str) -> SimOrder:
        """The order behind a QR code's content or a pay URL (what the driver's phone scans)."""
        for order in self.orders.values():
            if order.trade_no[5:25] in code or order.trade_no[-16:] in code or order.out_trade_no in code:
                return order
        raise KeyError(f"no order for {code!r}")

    def pay(self, out_trade_no: str, at: datetime | None = None) -> int:
        """The driver pays: the order succeeds and the notification goes to central; answers central's status."""
        order = self.orders[out_trade_no]
        if order.state != "SUCCESS":
            order.state, order.paid_at = "SUCCESS", at or datetime.now(UTC)
        return self.notify(out_trade_no, at=at)

    def notify(self, out_trade_no: str, *, at: datetime | None = None, key: rsa.RSAPrivateKey | None = None,
               resend: bool = False, body: bytes | None = None) -> int:  # fmt: skip
        """Send (``resend``: the very same bytes again) the order's notification; ``at`` signs it at another time,
        ``key`` with another key (a forgery), ``body`` replaces the body after signing (tampering)."""
        order = self.orders[out_trade_no]
        if resend and order.last_notification is not None:
            headers, content = order.last_notification
        else:
            build = self.wechat_notification if order.provider == "wechat" else self.alipay_notification
            headers, content = build(order, at or datetime.now(UTC), key)
            order.last_notification = (headers, content)
        response = httpx.post(order.notify_url, content=body if body is not None else content, headers=headers,
                              timeout=10)  # fmt: skip
        self.notifications.append((out_trade_no, response.status_code))
        return response.status_code


def create_app(simulator: PaymentProviderSimulator) -> FastAPI:
    """The simulator's HTTP side: WeChat Pay's /v3 API, Alipay's gateway, bill downloads and a /sim/pay hand."""
    app = FastAPI(title="payment provider simulator", docs_url=None, redoc_url=None, openapi_url=None)

    async def wechat_guard(request: Request) -> tuple[str, Response | None]:
        body = (await request.body()).decode()
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if not simulator.reachable:
            return body, Response(status_code=503)
        if not simulator.wechat_authorized(request.method, path, request.headers.get("authorization", ""), body):
            return body, JSONResponse({"code": "SIGN_ERROR", "message": "签名错误"}, status_code=401)
        return body, None

    @app.post("/v3/pay/transactions/{channel}")
    async def wechat_pay(channel: str, request: Request) -> Response:
        body, refused = await wechat_guard(request)
        if refused is not None:
            return refused
        status, payload = simulator.wechat_order(channel, json.loads(body or "{}"))
        return simulator.wechat_answer(status, payload)

    @app.post("/v3/refund/domestic/refunds")
    async def wechat_refund(request: Request) -> Response:
        body, refused = await wechat_guard(request)
        if refused is not None:
            return refused
        asked = json.loads(body or "{}")
        order = simulator.orders.get(str(asked.get("out_trade_no", "")))
        amount = int(asked.get("amount", {}).get("refund", 0))
        if order is None or order.state != "SUCCESS" or amount > order.amount - sum(r for _, r, _ in order.refunds):
            return simulator.wechat_answer(400, {"code": "INVALID_REQUEST", "message": "订单状态不正确"})
        order.refunds.append((str(asked.get("out_refund_no", "")), amount, datetime.now(UTC)))
        return simulator.wechat_answer(200, {
            "refund_id": "50300" + secrets.token_hex(10), "out_refund_no": asked.get("out_refund_no"),
            "transaction_id": order.trade_no, "out_trade_no": order.out_trade_no, "status": "SUCCESS",
            "amount": {"refund": amount, "total": order.amount, "currency": "CNY"},
        })  # fmt: skip

    @app.get("/v3/bill/tradebill")
    async def wechat_bill(request: Request, bill_date: str) -> Response:
        _body, refused = await wechat_guard(request)
        if refused is not None:
            return refused
        token = secrets.token_hex(8)
        simulator._bills[token] = simulator.trade_bill(date.fromisoformat(bill_date))
        url = f"{simulator.base_url}/v3/billdownload/file?token={token}"
        return simulator.wechat_answer(200, {"hash_type": "SHA1", "hash_value": "", "download_url": url})

    @app.get("/v3/billdownload/file")
    async def wechat_bill_file(request: Request, token: str) -> Response:
        _body, refused = await wechat_guard(request)
        if refused is not None:
            return refused
        return Response(simulator._bills.pop(token, b""), media_type="application/octet-stream")

    @app.get("/gateway.do")
    async def alipay_gateway(request: Request) -> Response:
        if not simulator.reachable:
            return Response(status_code=503)
        method, payload = simulator.alipay_request(dict(parse_qsl(request.url.query, keep_blank_values=True)))
        if method == "alipay.trade.wap.pay":  # the phone's browser opened the checkout
            return cashier("支付宝", payload.get("out_trade_no", ""), payload.get("code") == "10000")
        return simulator.alipay_answer(method, payload)

    @app.get("/h5pay")
    async def wechat_cashier(prepay_id: str) -> Response:
        order = next((o for o in simulator.orders.values() if prepay_id[2:] in o.trade_no), None)
        return cashier("微信支付", order.out_trade_no if order else "", order is not None)

    def cashier(name: str, out_trade_no: str, known: bool) -> Response:
        """The provider's own checkout page on the phone, as far as a test needs it: one button that pays."""
        if not known:
            return HTMLResponse("<p>订单无效</p>", status_code=400)
        order = simulator.orders[out_trade_no]
        return HTMLResponse(
            f'<!doctype html><meta name="viewport" content="width=device-width"><title>{name}</title>'
            f"<h1>{name}</h1><p data-amount>¥{_yuan(order.amount)}</p>"
            f'<form method="post" action="/sim/pay?code={out_trade_no}"><button id="confirm">确认支付</button></form>'
        )

    @app.get("/bill/{token}")
    async def alipay_bill_file(token: str) -> Response:
        return Response(simulator._bills.pop(token, b""), media_type="application/zip")

    @app.post("/sim/pay")
    def sim_pay(code: str) -> Response:
        """The driver scans ``code`` (a QR's content, a pay URL or the order) and pays."""
        order = simulator.order_by_code(code)
        status = simulator.pay(order.out_trade_no)
        return HTMLResponse(f'<p id="result" data-central="{status}">支付成功</p>' if status == 200 else
                            f'<p id="result" data-central="{status}">支付未确认</p>')  # fmt: skip

    return app


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8480)
    parser.add_argument("--keys", type=Path, required=True, help="folder for the merchant's key files")
    args = parser.parse_args(argv)
    simulator = PaymentProviderSimulator()
    simulator.base_url = f"http://{args.host}:{args.port}"
    settings = simulator.merchant_files(args.keys)
    for name, value in settings.items():
        print(f"PARKGATE_{name.upper()}={value}")
    uvicorn.run(create_app(simulator), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
