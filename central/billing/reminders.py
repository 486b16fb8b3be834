"""Renewal reminders delivered before a pass ends: by e-mail (an apprise ``mailto://`` URL naming the SMTP server)
and by a webhook for an SMS or WeChat gateway (an apprise ``json://`` URL; the holder's phone, the pass and its end
are added to the payload). Every delivery and every failure is recorded; a pass is reminded once per channel for
each end date."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote, urlsplit

import apprise
from sqlalchemy import select
from sqlalchemy.orm import Session

from central.audit import record_change, snapshot
from central.core.db import utcnow
from central.models import Holder, MonthlyPass, ReminderDelivery, User
from central.renewal import OPERATOR_ZONE
from parking.wire import PassStatus

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ReminderChannels:
    """Where reminders go: ``mail_url`` like ``mailto://smtp.example:25?from=office@example&mode=insecure`` (the
    holder's address is added as ``to``), ``webhook_url`` like ``json://gateway:8080/sms``."""

    mail_url: str | None = None
    webhook_url: str | None = None


def _message(monthly: MonthlyPass, holder: Holder, now: datetime) -> tuple[str, str]:
    ends = monthly.valid_to.astimezone(OPERATOR_ZONE).strftime("%Y-%m-%d")
    days = max((monthly.valid_to - now).days, 0)
    plates = "、".join(monthly.plates)
    title = f"月租续费提醒 / Pass renewal reminder ({plates})"
    body = (
        f"{holder.name}，您好：车辆 {plates} 的月租卡将于 {ends} 到期（剩余 {days} 天），请及时续费。\n"
        f"Dear {holder.name}, the monthly pass for {plates} ends on {ends} ({days} days left); please renew."
    )
    return title, body


def _with_query(url: str, extra: str) -> str:
    return url + ("&" if urlsplit(url).query else "?") + extra


def _send(url: str, title: str, body: str) -> str:
    """Send one notification; answers the error text, empty on success."""
    notifier = apprise.Apprise()
    if not notifier.add(url):
        return "the notification URL is not understood by apprise"
    with apprise.LogCapture(level=logging.WARNING) as captured:  # type: ignore[no-untyped-call]
        ok = notifier.notify(title=title, body=body)
        log = captured.getvalue().strip() if hasattr(captured, "getvalue") else ""
    return "" if ok else (log or "delivery failed")[-2000:]


def deliver_reminders(
    session: Session, actor: User | None, channels: ReminderChannels, days: int, now: datetime | None = None
) -> list[ReminderDelivery]:
    """Remind the holders of passes ending within ``days``; answers the deliveries made (sent or failed)."""
    now = now or utcnow()
    query = (
        select(MonthlyPass, Holder)
        .join(Holder, Holder.id == MonthlyPass.holder_id)
        .where(
            MonthlyPass.status.in_([PassStatus.ACTIVE.value, PassStatus.SUSPENDED.value]),
            MonthlyPass.valid_to >= now,
            MonthlyPass.valid_to <= now + timedelta(days=days),
        )
        .order_by(MonthlyPass.valid_to, MonthlyPass.id)
    )
    made: list[ReminderDelivery] = []
    for monthly, holder in session.execute(query):
        done = set(
            session.scalars(
                select(ReminderDelivery.channel).where(
                    ReminderDelivery.pass_id == monthly.id,
                    ReminderDelivery.valid_to == monthly.valid_to,
                    ReminderDelivery.status == "sent",
                )
            )
        )
        title, body = _message(monthly, holder, now)
        targets: list[tuple[str, str, str]] = []
        if channels.mail_url and holder.email and "email" not in done:
            targets.append(("email", holder.email, _with_query(channels.mail_url, "to=" + quote(holder.email))))
        if channels.webhook_url and holder.phone and "webhook" not in done:
            extra = (
                f":phone={quote(holder.phone)}&:pass={quote(monthly.id)}&:ends={quote(monthly.valid_to.isoformat())}"
            )
            targets.append(("webhook", holder.phone, _with_query(channels.webhook_url, extra)))
        for channel, target, url in targets:
            error = _send(url, title, body)
            delivery = ReminderDelivery(
                pass_id=monthly.id,
                valid_to=monthly.valid_to,
                channel=channel,
                target=target,
                status="failed" if error else "sent",
                error=error,
                at=utcnow(),
            )
            session.add(delivery)
            session.flush()
            record_change(
                session,
                actor,
                f"reminder.{delivery.status}",
                "reminder_delivery",
                delivery.id,
                None,
                snapshot(delivery),
            )
            if error:
                _LOGGER.warning("reminder for pass %s by %s to %s failed: %s", monthly.id, channel, target, error)
            made.append(delivery)
    return made
