"""Limits on logging in at central, per source address and per account, kept in PostgreSQL (``sign_in_attempts``)
so every process behind a load balancer counts the same attempts.

* **Source**: ``SOURCE_MAX_FAILURES`` failed or refused attempts from one address within ``SOURCE_WINDOW`` and
  the address is refused outright (429 ``auth.rate_limited``) before any password is checked or any account's
  count moves, until the window has slid past them. Refusals count, so a source that keeps hammering stays out.
* **Account**: after ``ACCOUNT_FREE_FAILURES`` failures in a row (since its last success, within a day) every
  further attempt waits a growing delay after the last failure: 30 s, 1 min, 2 min ... up to 15 minutes
  (429 ``auth.locked``), right password or not. Refused attempts do not count, so the delay only grows with real
  guesses, and one source (limited as above) can hold at most two accounts in delay.

The source is the client address as the ASGI server gives it: behind a proxy run uvicorn with ``--proxy-headers
--forwarded-allow-ips <proxy>`` so it is the real client's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from central.models import SignInAttempt

SOURCE_WINDOW = timedelta(minutes=15)
SOURCE_MAX_FAILURES = 10
ACCOUNT_FREE_FAILURES = 5
ACCOUNT_FIRST_DELAY = timedelta(seconds=30)
ACCOUNT_MAX_DELAY = timedelta(minutes=15)
ACCOUNT_MEMORY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Refusal:
    code: str  # auth.rate_limited (the source) or auth.locked (the account)
    message: str
    until: datetime


def account_delay(failures: int) -> timedelta:
    """The wait after the last of ``failures`` failures in a row: none for the first few, then doubling."""
    if failures < ACCOUNT_FREE_FAILURES:
        return timedelta()
    delay: timedelta = ACCOUNT_FIRST_DELAY * 2 ** min(failures - ACCOUNT_FREE_FAILURES, 16)
    return min(delay, ACCOUNT_MAX_DELAY)


def refusal(session: Session, username: str, source: str, now: datetime) -> Refusal | None:
    """Why an attempt for ``username`` from ``source`` is refused before its password is checked, if it is."""
    recent = session.execute(
        select(SignInAttempt.at).where(
            SignInAttempt.source == source, SignInAttempt.at > now - SOURCE_WINDOW,
            SignInAttempt.outcome.in_(("failed", "refused")),
        ).order_by(SignInAttempt.at.desc()).limit(SOURCE_MAX_FAILURES)
    ).scalars().all()  # fmt: skip
    if len(recent) >= SOURCE_MAX_FAILURES:
        until = recent[-1] + SOURCE_WINDOW
        return Refusal("auth.rate_limited", f"too many failed logins from {source}: try again after "
                                            f"{until.isoformat(timespec='seconds')}", until)  # fmt: skip
    last_ok = session.scalar(
        select(func.max(SignInAttempt.at)).where(SignInAttempt.username == username, SignInAttempt.outcome == "ok")
    )
    since = max(last_ok, now - ACCOUNT_MEMORY) if last_ok is not None else now - ACCOUNT_MEMORY
    failures, last_failure = session.execute(
        select(func.count(), func.max(SignInAttempt.at)).where(
            SignInAttempt.username == username, SignInAttempt.outcome == "failed", SignInAttempt.at > since
        )
    ).one()  # fmt: skip
    delay = account_delay(int(failures))
    if delay and last_failure is not None and now < last_failure + delay:
        until = last_failure + delay
        return Refusal("auth.locked", f"{failures} failed logins in a row for this account: try again after "
                                      f"{until.isoformat(timespec='seconds')}", until)  # fmt: skip
    return None


def record_attempt(session: Session, username: str, source: str, outcome: str, now: datetime) -> None:
    """Count one attempt (``ok``, ``failed`` or ``refused``) and forget this account's and source's old ones."""
    session.execute(
        delete(SignInAttempt).where(SignInAttempt.username == username, SignInAttempt.at < now - ACCOUNT_MEMORY)
    )
    session.execute(
        delete(SignInAttempt).where(SignInAttempt.source == source, SignInAttempt.at < now - ACCOUNT_MEMORY)
    )
    session.add(SignInAttempt(at=now, username=username, source=source, outcome=outcome))
