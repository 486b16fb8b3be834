"""Direct-debit mandates (代扣协议): the holder's bank, account number (IBAN checked by mod 97 for SEPA; digits and
length for Chinese banks), account name and the mandate reference."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.audit import record_change, snapshot
from central.billing.errors import BillingError, MissingRecordError
from central.core.db import utcnow
from central.models import DebitMandate, Holder, User

_IBAN = re.compile(r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$")
_BIC = re.compile(r"^[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?$")
_CN_ACCOUNT = re.compile(r"^[0-9]{12,25}$")
_REFERENCE = re.compile(r"^[A-Za-z0-9+?/:().,' -]{1,35}$")


def normalise_account(scheme: str, number: str) -> str:
    """The account number without spaces (and upper case for an IBAN); refused when it cannot be right."""
    text = "".join(number.split()).upper()
    if scheme == "sepa":
        if not _IBAN.match(text):
            raise BillingError(
                "mandate.bad_iban", f"{number!r} is not an IBAN (country, check digits, account)", status=422
            )
        digits = "".join(str(int(ch, 36)) for ch in text[4:] + text[:4])
        if int(digits) % 97 != 1:
            raise BillingError(
                "mandate.bad_iban", f"{number!r}: the IBAN check digits do not match (mod 97)", status=422
            )
        return text
    if scheme == "cn":
        if not _CN_ACCOUNT.match(text):
            raise BillingError(
                "mandate.bad_account", f"{number!r}: a Chinese bank account is 12 to 25 digits", status=422
            )
        return text
    raise BillingError("mandate.bad_scheme", f"unknown scheme {scheme!r}: sepa or cn", status=422)


def create_mandate(
    session: Session,
    actor: User,
    *,
    holder_id: int,
    scheme: str,
    bank: str,
    account_number: str,
    account_name: str,
    reference: str,
    bic: str = "",
    signed_on: datetime | None = None,
) -> DebitMandate:
    """Record a mandate; the holder's earlier mandates of the same scheme stop being used."""
    if session.get(Holder, holder_id) is None:
        raise MissingRecordError("holder", holder_id)
    number = normalise_account(scheme, account_number)
    bic = bic.strip().upper()
    if bic and not _BIC.match(bic):
        raise BillingError("mandate.bad_bic", f"{bic!r} is not a BIC", status=422)
    if not _REFERENCE.match(reference):
        raise BillingError(
            "mandate.bad_reference", "a mandate reference is 1 to 35 letters, digits or +?/:().,'- ", status=422
        )
    if not account_name.strip() or not bank.strip():
        raise BillingError("mandate.incomplete", "a mandate needs the bank and the account name", status=422)
    if session.scalars(select(DebitMandate.id).where(DebitMandate.reference == reference)).first() is not None:
        raise BillingError("mandate.reference_in_use", f"the mandate reference {reference!r} is in use already")
    for older in session.scalars(
        select(DebitMandate).where(
            DebitMandate.holder_id == holder_id, DebitMandate.scheme == scheme, DebitMandate.active
        )
    ):
        before = snapshot(older)
        older.active = False
        record_change(session, actor, "mandate.replace", "debit_mandate", older.id, before, snapshot(older))
    mandate = DebitMandate(
        holder_id=holder_id,
        scheme=scheme,
        bank=bank.strip(),
        bic=bic,
        account_number=number,
        account_name=account_name.strip(),
        reference=reference,
        signed_on=signed_on or utcnow(),
        active=True,
    )
    session.add(mandate)
    session.flush()
    record_change(session, actor, "mandate.create", "debit_mandate", mandate.id, None, snapshot(mandate))
    return mandate


def revoke_mandate(session: Session, actor: User, mandate_id: int, reason: str = "") -> DebitMandate:
    """Stop using a mandate; ``reason`` (why, as the operator said it) goes into the audit entry."""
    mandate = session.get(DebitMandate, mandate_id)
    if mandate is None:
        raise MissingRecordError("mandate", mandate_id)
    before = snapshot(mandate)
    mandate.active = False
    record_change(
        session, actor, "mandate.revoke", "debit_mandate", mandate.id, before, snapshot(mandate),
        reason=reason.strip() or None,
    )  # fmt: skip
    session.flush()
    return mandate
