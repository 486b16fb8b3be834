"""Selling and renewing a monthly pass, and stopping, issuing and replacing access cards: the steps the API and the
office console share. Each function changes the records, publishes them to the edges and writes the audit log; the
caller commits. Refusals are :class:`~central.api.errors.ApiError` with the API's stable codes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.audit import record_change, snapshot
from central.billing.pass_billing import bill_pass_renewal, bill_pass_sale, renewal_request_seen
from central.core.db import utcnow
from central.errors import ApiError, conflict, not_found
from central.models import AccessCard, AccessGroup, AuditEntry, Holder, Invoice, MonthlyPass, PassPlan, User
from central.publication import publish_card, publish_pass
from central.renewal import add_months
from parking.ids import new_id
from parking.plates import normalise_plate as normalise_plate  # one normalisation for edge and central
from parking.wire import CardStatus, PassStatus


def pass_plates(raw: Sequence[str]) -> list[str]:
    """The plates normalised, duplicates dropped in order; refuses a plate that is only separators."""
    plates = list(dict.fromkeys(normalise_plate(p) for p in raw))
    if not all(plates):
        raise ApiError(422, "pass.bad_plate", "a plate is empty once separators are removed")
    return plates


def sell_pass(
    session: Session, user: User | None, *, holder_id: int, plan_id: int, plates: Sequence[str],
    card_number: str | None, valid_from: datetime | None, months: int, reason: str | None = None,
    client_request: str | None = None,
) -> MonthlyPass:  # fmt: skip
    """A new pass for ``months`` calendar months from ``valid_from`` (default now), with its invoice (billing may hold
    it unpaid until paid, by the plan's rule); a retried call with the same ``client_request`` sells nothing twice."""
    if (
        client_request
        and (seen := session.scalars(select(Invoice).where(Invoice.request_id == client_request)).first())
        and seen.pass_id
        and (earlier := session.get(MonthlyPass, seen.pass_id)) is not None
    ):
        return earlier
    if session.get(Holder, holder_id) is None:
        raise not_found("holder", holder_id)
    plan = session.get(PassPlan, plan_id)
    if plan is None:
        raise not_found("plan", plan_id)
    if not plan.active:
        raise conflict("plan.inactive", f"plan {plan.name!r} is no longer sold")
    start = valid_from or utcnow()
    monthly = MonthlyPass(id=new_id(), holder_id=holder_id, plan_id=plan.id, plates=pass_plates(plates),
                          card_number=card_number, valid_from=start, valid_to=add_months(start, months),
                          status=PassStatus.ACTIVE.value)  # fmt: skip
    session.add(monthly)
    session.flush()
    bill_pass_sale(session, monthly, plan, months, start, user, client_request)
    publish_pass(session, monthly)
    record_change(session, user, "pass.create", "pass", monthly.id, None, snapshot(monthly), reason=reason)
    return monthly


def renew_pass(
    session: Session, user: User | None, monthly: MonthlyPass, months: int, reason: str | None = None,
    client_request: str | None = None,
) -> MonthlyPass:  # fmt: skip
    """Extend by ``months``; a lapsed pass restarts today (it does not pay for the gap) and becomes active — at once,
    or once its invoice is paid, by the plan's billing rule. A retried call renews nothing twice."""
    if renewal_request_seen(session, client_request):
        return monthly
    if monthly.status == PassStatus.CANCELLED:
        raise conflict("pass.cancelled", "a cancelled pass cannot be renewed: sell a new one")
    plan = session.get_one(PassPlan, monthly.plan_id)
    before = snapshot(monthly)
    start = max(monthly.valid_to, utcnow())
    if bill_pass_renewal(session, monthly, plan, months, start, user, client_request):  # else: once paid
        monthly.valid_to = add_months(start, months)
        if monthly.status == PassStatus.EXPIRED:
            monthly.status = PassStatus.ACTIVE.value
    publish_pass(session, monthly)
    record_change(session, user, "pass.renew", "pass", monthly.id, before, snapshot(monthly), reason=reason)
    return monthly


def check_card_number_free(session: Session, number: str) -> None:
    """Refuses a number an active card already has."""
    taken = session.scalars(
        select(AccessCard.id).where(AccessCard.number == number, AccessCard.status == CardStatus.ACTIVE.value)
    ).first()
    if taken is not None:
        raise conflict("card.number_in_use", f"an active card {number!r} exists", {"card_id": taken})


def check_access_groups(session: Session, groups: Sequence[int]) -> list[int]:
    """The group ids sorted and unique; refuses one that does not exist."""
    unique = sorted(set(groups))
    found = set(session.scalars(select(AccessGroup.id).where(AccessGroup.id.in_(unique)))) if unique else set()
    if missing := [g for g in unique if g not in found]:
        raise ApiError(404, "access_group.not_found", f"no access group {missing[0]}", {"missing": missing})
    return unique


def issue_card(
    session: Session, user: User | None, *, holder_id: int, number: str, groups: Sequence[int],
    valid_from: datetime | None, valid_to: datetime | None, deposit_minor: int, deposit_currency: str,
    reason: str | None = None,
) -> AccessCard:  # fmt: skip
    """A new active card for the holder (the number must not be on another active card)."""
    if session.get(Holder, holder_id) is None:
        raise not_found("holder", holder_id)
    check_card_number_free(session, number)
    card = AccessCard(id=new_id(), number=number, holder_id=holder_id, groups=check_access_groups(session, groups),
                      valid_from=valid_from or utcnow(), valid_to=valid_to, status=CardStatus.ACTIVE.value,
                      deposit_minor=deposit_minor, deposit_currency=deposit_currency)  # fmt: skip
    session.add(card)
    session.flush()
    publish_card(session, card)
    record_change(session, user, "card.issue", "card", card.id, None, snapshot(card), reason=reason)
    return card


def stop_card(
    session: Session, user: User | None, card_id: str, status: CardStatus, reason: str | None = None
) -> AccessCard:
    """An active card becomes lost, revoked or replaced; every edge refuses it at its next sync."""
    card = session.get(AccessCard, card_id)
    if card is None:
        raise not_found("card", card_id)
    if card.status != CardStatus.ACTIVE:
        raise conflict("card.not_active", f"the card is {card.status}", {"status": card.status})
    before = snapshot(card)
    card.status = status.value
    publish_card(session, card)
    record_change(session, user, f"card.{status.value}", "card", card.id, before, snapshot(card), reason=reason)
    if status in (CardStatus.LOST, CardStatus.REVOKED):
        # Edges find a pass by its card before they look at the card itself: a stopped card must leave its passes,
        # which then open by plate only (a replacement card takes the place again, see replace_card).
        for monthly in _passes_with_card(session, card.holder_id, card.number):
            _move_pass_card(session, user, monthly, None, reason)
    return card


def _passes_with_card(session: Session, holder_id: int, number: str | None) -> list[MonthlyPass]:
    return list(session.scalars(
        select(MonthlyPass).where(MonthlyPass.holder_id == holder_id, MonthlyPass.card_number == number)
    ))  # fmt: skip


def _move_pass_card(
    session: Session, user: User | None, monthly: MonthlyPass, number: str | None, reason: str | None
) -> None:
    before = snapshot(monthly)
    monthly.card_number = number
    publish_pass(session, monthly)
    record_change(session, user, "pass.card", "pass", monthly.id, before, snapshot(monthly), reason=reason)


def _passes_that_lost(session: Session, holder_id: int, number: str) -> list[MonthlyPass]:
    """The holder's passes without a card whose card was last taken off because card ``number`` stopped."""
    found = []
    for monthly in _passes_with_card(session, holder_id, None):
        last = session.scalars(
            select(AuditEntry).where(AuditEntry.entity == "pass", AuditEntry.entity_id == monthly.id,
                                     AuditEntry.action == "pass.card").order_by(AuditEntry.id.desc()).limit(1)
        ).first()  # fmt: skip
        if last is not None and (last.before or {}).get("card_number") == number:
            found.append(monthly)
    return found


def replace_card(
    session: Session, user: User | None, card_id: str, number: str, deposit_minor: int | None,
    reason: str | None = None,
) -> AccessCard:  # fmt: skip
    """A new card in place of an active card (which stops everywhere at the next sync) or of a lost one not yet
    replaced; the new one has the same holder, groups and validity, and the holder's passes identified by the old
    number now name the new one."""
    check_card_number_free(session, number)
    lost = session.get(AccessCard, card_id)
    if lost is not None and lost.status == CardStatus.LOST and lost.replaced_by is None:
        old = lost  # a card reported lost stays lost (the edges already refuse it); the new one takes its place
    else:
        old = stop_card(session, user, card_id, CardStatus.REPLACED, reason)
    new = AccessCard(id=new_id(), number=number, holder_id=old.holder_id, groups=list(old.groups),
                     valid_from=utcnow(), valid_to=old.valid_to, status=CardStatus.ACTIVE.value,
                     deposit_minor=old.deposit_minor if deposit_minor is None else deposit_minor,
                     deposit_currency=old.deposit_currency)  # fmt: skip
    session.add(new)
    session.flush()
    old.replaced_by = new.id
    publish_card(session, new)
    record_change(session, user, "card.issue", "card", new.id, None, snapshot(new), reason=reason)
    # The passes the old card identified follow the new card: still naming it (an active card replaced), or having
    # lost it when it was reported lost.
    followers = _passes_that_lost(session, old.holder_id, old.number) if old is lost else []
    for monthly in followers + _passes_with_card(session, old.holder_id, old.number):
        _move_pass_card(session, user, monthly, new.number, reason)
    return new
