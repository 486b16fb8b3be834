"""Passwords (argon2) and bearer tokens (random, stored only as a SHA-256 digest)."""

from __future__ import annotations

import hashlib
import secrets
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# A real hash, verified against when the user does not exist, so timing does not reveal user names.
_DUMMY_HASH = _hasher.hash("parkgate-no-such-user")


class Role(StrEnum):
    ADMIN = "admin"
    OFFICE = "office"  # finance office: tariffs, plans, fee items
    CASHIER = "cashier"  # office cashier (出纳): payments, receipts, refunds, direct debit, arrears, cash bags
    SUPERVISOR = "supervisor"
    FRONT_DESK = "front_desk"  # issues cards and passes, records owners
    COLLECTOR = "collector"  # booth toll collector: reads lists, reminds pass holders
    AUDITOR = "auditor"  # reads the books and the reconciliation, changes nothing


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, stored: str | None) -> bool:
    try:
        return _hasher.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def new_token(prefix: str) -> str:
    """A bearer token: a readable prefix (``pgu`` user session, ``pge`` edge) and 256 random bits."""
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def token_digest(token: str) -> str:
    """Tokens carry 256 random bits, so a plain SHA-256 is enough to store them safely (no salt or stretching)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
