"""The provider adapter interface: what central asks of WeChat Pay, Alipay or any other e-payment provider.

An adapter turns our order into the provider's checkout (a QR code's content or a page to open), verifies and
reads the provider's notification, refunds, and fetches the daily statement. Everything the provider's SDK raises
is translated at this boundary into :class:`ProviderError` (``raise ... from err``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Protocol


def require_settings(provider: str, required: dict[str, object]) -> None:
    """Refuse an adapter whose settings are not all given, naming every missing environment variable."""
    missing = [name for name, value in required.items() if not value]
    if missing:
        raise ValueError(f"{provider} is not configured: set {', '.join(missing)}")


def read_key_file(provider: str, path: object, what: str) -> str:
    """A key file's text (surrounding whitespace dropped), or an error naming the provider, the key and the file."""
    try:
        return Path(str(path)).read_text(encoding="utf-8").strip()
    except OSError as err:
        raise ValueError(f"{provider}: cannot read the {what} file {str(path)!r}: {err}") from err


class ProviderError(Exception):
    """The provider could not be reached or refused the request."""

    def __init__(self, provider: str, message: str) -> None:
        super().__init__(f"{provider}: {message}")
        self.provider = provider


class NotificationRefused(Exception):  # noqa: N818 - a refusal, not a failure of ours
    """A notification that is not the provider's (bad signature) or not acceptable (stale, malformed)."""

    def __init__(self, reason: str, message: str, status: int = 400, notice_id: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason  # signature, stale, malformed
        self.message = message
        self.status = status
        self.notice_id = notice_id


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """What an adapter needs to place an order: our id (out_trade_no), amount in minor units, a description."""

    order_id: str
    amount: int
    currency: str
    description: str
    notify_url: str
    expires_at: datetime
    channel: str = "native"  # native (QR), jsapi (inside WeChat), h5 / page (browser)
    payer_id: str | None = None  # the WeChat openid, for JSAPI
    client_ip: str | None = None  # for H5


@dataclass(frozen=True, slots=True)
class Checkout:
    """How the driver pays: a QR code's content or a URL to open, and the provider's own ids."""

    qr_code: str | None = None
    pay_url: str | None = None
    prepay_id: str | None = None


@dataclass(frozen=True, slots=True)
class PaidNotice:
    """A verified notification that an order was paid."""

    notice_id: str
    order_id: str
    provider_trade_no: str
    amount: int
    paid_at: datetime
    succeeded: bool
    state: str  # the provider's own state word (SUCCESS, TRADE_SUCCESS, ...)
    signed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Refund:
    refund_id: str
    provider_refund_no: str
    state: str


@dataclass(frozen=True, slots=True)
class StatementEntry:
    """One line of the provider's daily statement."""

    kind: str  # payment, refund
    order_id: str
    provider_trade_no: str
    amount: int
    state: str
    at: datetime | None = None
    fee: int = 0


@dataclass(slots=True)
class Statement:
    provider: str
    day: date
    entries: list[StatementEntry] = field(default_factory=list)


class PaymentProvider(Protocol):
    """What every provider adapter offers."""

    name: str

    def place_order(self, order: OrderRequest) -> Checkout:
        """Create the order at the provider; the same ``order_id`` twice must not charge twice."""
        ...

    def read_notification(self, headers: dict[str, str], body: bytes, now: datetime) -> PaidNotice:
        """Verify the notification's signature and freshness and read it; raises :class:`NotificationRefused`."""
        ...

    def acknowledgement(self) -> tuple[int, str, str]:
        """What the provider expects back for a notification taken: status, body, media type."""
        ...

    def refund(self, order_id: str, refund_id: str, amount: int, total: int, reason: str) -> Refund:
        """Refund ``amount`` of a paid order of ``total``."""
        ...

    def statement(self, day: date) -> Statement:
        """The provider's statement of ``day`` (the provider's day, China time)."""
        ...
