"""Writing the audit log: every change an operator makes, in the same transaction as the change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.orm import Session

from central.models import AuditEntry, User

# Never copied into the log.
_SECRET_COLUMNS = frozenset({"password_hash", "token_hash"})


def snapshot(record: object) -> dict[str, Any]:
    """The record's column values as JSON-ready data (times as ISO 8601 UTC)."""
    values: dict[str, Any] = {}
    for attr in inspect(record).mapper.column_attrs:
        if attr.key in _SECRET_COLUMNS:
            continue
        value = getattr(record, attr.key)
        values[attr.key] = value.isoformat() if isinstance(value, datetime) else value
    return values


def record_change(
    session: Session,
    user: User | None,
    action: str,
    entity: str,
    entity_id: object,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    *,
    reason: str | None = None,
) -> None:
    """Log one change in the caller's transaction; ``reason`` (why the operator did it) is kept beside the record
    after the change, under ``after["operator_reason"]`` (or alone there when the record is gone)."""
    if reason:
        after = {**(after or {}), "operator_reason": reason}
    session.add(
        AuditEntry(
            user_id=user.id if user else None,
            username=user.username if user else "system",
            action=action,
            entity=entity,
            entity_id=str(entity_id),
            before=before,
            after=after,
        )
    )


def record_login(
    session: Session, user: User | None, username: str, outcome: str, source: str, reason: str = ""
) -> None:
    """One login attempt (``ok``, ``failed``, ``refused`` by the limits) with its source address; the entry names
    the username tried, even one that does not exist."""
    action = {"ok": "login", "failed": "login_failed", "refused": "login_refused"}[outcome]
    session.add(
        AuditEntry(
            user_id=user.id if user else None, username=username, action=action, entity="login",
            entity_id=username, before=None, after={"source": source, "outcome": outcome, "reason": reason},
        )
    )  # fmt: skip
