"""The daily billing job (``parkgate central billing-daily``): suspend passes overdue past their plan's grace, then
send the renewal reminders due, each step in its own transaction."""

from __future__ import annotations

import logging

from central.billing.arrears import suspend_overdue_passes
from central.billing.reminders import ReminderChannels, deliver_reminders
from central.core.config import Settings
from central.core.db import make_engine, make_session_factory

_LOGGER = logging.getLogger(__name__)


def run_daily(settings: Settings, reminder_days: int) -> tuple[int, int, int]:
    """Answers (passes suspended, reminders sent, reminders failed)."""
    engine = make_engine(settings.sqlalchemy_url)
    sessions = make_session_factory(engine)
    try:
        with sessions() as session:
            suspended = suspend_overdue_passes(session, None)
            session.commit()
        channels = ReminderChannels(settings.reminder_mail_url, settings.reminder_webhook_url)
        with sessions() as session:
            made = deliver_reminders(session, None, channels, reminder_days)
            session.commit()
    finally:
        engine.dispose()
    failed = sum(d.status == "failed" for d in made)
    _LOGGER.info("billing daily: %d suspended, %d reminders sent, %d failed", len(suspended), len(made) - failed,
                 failed)  # fmt: skip
    return len(suspended), len(made) - failed, failed
