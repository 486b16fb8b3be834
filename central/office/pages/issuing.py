"""The front desk's sales: sell and renew a pass, issue an access card (typed, or read by a keyboard-wedge reader:
its keystrokes and Enter land in the number field), mark a card lost, revoke or replace it. Each asks for the
reason, which the audit log keeps with the change."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select

from central.api.deps import SessionDep
from central.api.errors import ApiError
from central.issuing import issue_card, renew_pass, replace_card, sell_pass, stop_card
from central.models import AccessCard, MonthlyPass, PassPlan
from central.office.deps import PagesDep, PostedForm, page
from central.office.forms import Form
from central.office.navigation import N_
from central.office.pages.desk import holder_context, load_holder
from central.office.rendering import redirect
from central.office.sessions import Operator
from parking.wire import CardStatus

router = APIRouter()
Front = page("desk")
_ROW_ID = 2_147_483_647


def _card_number(form: Form, name: str = "number") -> str:
    """The card number as typed or as the desk reader sent it (its keystrokes; the Enter submitted the form)."""
    return form.text(name, max_length=64, required=True).replace(" ", "")


@router.post("/holders/{holder_id}/passes")
def sell(holder_id: int, request: Request, form: PostedForm, session: SessionDep, pages: PagesDep,
         operator: Operator = Front) -> Response:  # fmt: skip
    """Sell a pass; with a card number, the holder also gets an access card of that number unless they have it."""
    holder = load_holder(session, holder_id)
    if holder is None:
        return pages.render(request, "not_found.html", {}, 404)
    plan_id = form.integer("plan_id", low=1, high=_ROW_ID)
    plates = form.plates("plates")
    card = form.text("card_number", max_length=64).replace(" ", "")
    months = form.integer("months", low=1, high=120)
    start = form.date("valid_from")
    reason = form.reason()
    plan = session.get(PassPlan, plan_id) if plan_id else None
    if plan_id and plan is None:
        form.refuse("plan_id", N_("No such pass plan."))
    if form.ok and card:
        active = select(AccessCard).where(AccessCard.number == card, AccessCard.status == CardStatus.ACTIVE.value)
        owner = session.scalars(active).first()
        if owner is not None and owner.holder_id != holder.id:
            form.refuse("card_number", N_("An active card of another holder has this number."))
    if not form.ok or plan is None or months is None:
        return pages.render(request, "holder.html", holder_context(session, holder, sale=form), 422)
    try:
        sell_pass(session, operator.user, holder_id=holder.id, plan_id=plan.id, plates=plates,
                  card_number=card or None, valid_from=start, months=months, reason=reason)  # fmt: skip
        has_card = card and session.scalars(select(AccessCard.id).where(
            AccessCard.number == card, AccessCard.status == CardStatus.ACTIVE.value)).first()  # fmt: skip
        if card and not has_card:
            issue_card(session, operator.user, holder_id=holder.id, number=card, groups=[], valid_from=start,
                       valid_to=None, deposit_minor=0, deposit_currency=plan.currency, reason=reason)  # fmt: skip
    except ApiError as err:
        session.rollback()
        form.refuse_api(err, {"plan.inactive": "plan_id", "pass.bad_plate": "plates"}, "plates")
        return pages.render(request, "holder.html", holder_context(session, holder, sale=form), 422)
    session.commit()
    return redirect(f"/office/holders/{holder.id}", done="pass_sold")


@router.post("/passes/{pass_id}/renew")
def renew(pass_id: str, request: Request, form: PostedForm, session: SessionDep, pages: PagesDep,
          operator: Operator = Front) -> Response:  # fmt: skip
    monthly = session.get(MonthlyPass, pass_id[:64])
    if monthly is None:
        return pages.render(request, "not_found.html", {}, 404)
    holder = load_holder(session, monthly.holder_id)
    assert holder is not None
    months = form.integer("months", low=1, high=120)
    reason = form.reason()
    if form.ok and months is not None:
        try:
            renew_pass(session, operator.user, monthly, months, reason)
        except ApiError as err:
            session.rollback()
            form.refuse_api(err, {}, "months")
        else:
            session.commit()
            return redirect(f"/office/holders/{holder.id}", done="pass_renewed")
    context = holder_context(session, holder, renewal={"pass_id": monthly.id, "form": form})
    return pages.render(request, "holder.html", context, 422)


@router.post("/holders/{holder_id}/cards")
def issue(holder_id: int, request: Request, form: PostedForm, session: SessionDep, pages: PagesDep,
          operator: Operator = Front) -> Response:  # fmt: skip
    holder = load_holder(session, holder_id)
    if holder is None:
        return pages.render(request, "not_found.html", {}, 404)
    number = _card_number(form)
    deposit = form.amount("deposit", "CNY")
    valid_to = form.date("valid_to")
    groups = []
    for value in form.values("groups")[:20]:
        if not value.isascii() or not value.isdigit() or not 1 <= int(value) <= _ROW_ID:
            form.refuse("groups", N_("Choose one of the offered values."))
            break
        groups.append(int(value))
    reason = form.reason()
    if form.ok:
        try:
            issue_card(session, operator.user, holder_id=holder.id, number=number, groups=groups, valid_from=None,
                       valid_to=valid_to, deposit_minor=deposit, deposit_currency="CNY", reason=reason)  # fmt: skip
        except ApiError as err:
            session.rollback()
            form.refuse_api(err, {"access_group.not_found": "groups"}, "number")
        else:
            session.commit()
            return redirect(f"/office/holders/{holder.id}", done="card_issued")
    return pages.render(request, "holder.html", holder_context(session, holder, card_form=form), 422)


def _card_action(card_id: str, action: str, request: Request, form: Form, session: SessionDep, pages: PagesDep,
                 operator: Operator) -> Response:  # fmt: skip
    card = session.get(AccessCard, card_id[:64])
    if card is None:
        return pages.render(request, "not_found.html", {}, 404)
    holder = load_holder(session, card.holder_id)
    assert holder is not None
    reason = form.reason()
    number = _card_number(form) if action == "replace" else ""
    deposit = form.amount("deposit", card.deposit_currency) if action == "replace" and form.raw("deposit") else None
    if form.ok:
        try:
            if action == "replace":
                replace_card(session, operator.user, card.id, number, deposit, reason)
            else:
                status = CardStatus.LOST if action == "lost" else CardStatus.REVOKED
                stop_card(session, operator.user, card.id, status, reason)
        except ApiError as err:
            session.rollback()
            form.refuse_api(
                err,
                {"card.not_active": "card", "card.not_found": "card"},
                "number" if action == "replace" else "reason",
            )
        else:
            session.commit()
            done = {"replace": "card_replaced", "lost": "card_lost", "revoke": "card_revoked"}[action]
            return redirect(f"/office/holders/{holder.id}", done=done)
    context = holder_context(session, holder, card_action={"card_id": card.id, "action": action, "form": form})
    return pages.render(request, "holder.html", context, 422)


@router.post("/cards/{card_id}/lost")
def mark_lost(card_id: str, request: Request, form: PostedForm, session: SessionDep, pages: PagesDep,
              operator: Operator = Front) -> Response:  # fmt: skip
    return _card_action(card_id, "lost", request, form, session, pages, operator)


@router.post("/cards/{card_id}/revoke")
def revoke(card_id: str, request: Request, form: PostedForm, session: SessionDep, pages: PagesDep,
           operator: Operator = Front) -> Response:  # fmt: skip
    return _card_action(card_id, "revoke", request, form, session, pages, operator)


@router.post("/cards/{card_id}/replace")
def replace(card_id: str, request: Request, form: PostedForm, session: SessionDep, pages: PagesDep,
            operator: Operator = Front) -> Response:  # fmt: skip
    return _card_action(card_id, "replace", request, form, session, pages, operator)
