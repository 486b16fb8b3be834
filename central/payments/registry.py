"""The providers this central offers, built from its settings: a provider whose settings are all unset is not
offered; one half-configured is an error at start-up naming what is missing."""

from __future__ import annotations

import logging
from datetime import timedelta

from central.core.config import Settings
from central.payments.alipay import AlipayProvider
from central.payments.providers import PaymentProvider
from central.payments.wechat import WeChatPayProvider

_LOGGER = logging.getLogger(__name__)


def configured_providers(settings: Settings) -> dict[str, PaymentProvider]:
    """Each provider with any of its settings set, by name (``wechat``, ``alipay``)."""
    max_age = timedelta(seconds=settings.payment_notification_max_age_s)
    providers: dict[str, PaymentProvider] = {}
    if any((settings.wechat_mchid, settings.wechat_merchant_key_file, settings.wechat_apiv3_key_file)):
        providers["wechat"] = WeChatPayProvider(settings, max_age)
    if any((settings.alipay_appid, settings.alipay_app_key_file)):
        providers["alipay"] = AlipayProvider(settings, max_age)
    if providers and not settings.payment_notify_base_url:
        raise ValueError("set PARKGATE_PAYMENT_NOTIFY_BASE_URL: the providers need central's address to notify it")
    _LOGGER.info("payment providers: %s", ", ".join(providers) or "none")
    return providers
