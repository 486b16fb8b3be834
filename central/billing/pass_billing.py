"""Invoices for pass sales and renewals, and the plan's billing rule: a pass on a plan active on payment is held
suspended until its sale is paid, and a renewal's months start when it is paid; a plan active on invoice (trusted
holders) runs at once. A plan without a rule keeps the behaviour before billing: active on invoice."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.audit import record_change, snapshot
from central.billing.invoices import DEFAULT_DUE_DAYS, ItemSpec, issue_invoice
from central.core.db import utcnow
from central.models import Invoice, MonthlyPass, PassHold, PassPlan, PlanBillingRule, User
from central.renewal import add_months, invoice_line
from parking.wire import PassStatus

TRUSTED_RULE = PlanBillingRule(
    activate_on="invoice", refund_mode="pro_rata", suspend_after_days=None, due_days=DEFAULT_DUE_DAYS
)


def plan_rule(session: Session, plan_id: int) -> PlanBillingRule:
    """The plan's billing rule (the trusted default when it has none)."""
    return session.get(PlanBillingRule, plan_id) or TRUSTED_RULE


def pass_car_park(plan: PassPlan) -> str:
    """The car park a pass's invoices are numbered under: the plan's first, ``*`` for a plan valid everywhere."""
    return sorted(plan.car_parks)[0] if plan.car_parks else "*"


def _months_item(monthly: MonthlyPass, plan: PassPlan, months: int, start: datetime) -> ItemSpec:
    plates = ", ".join(monthly.plates)
    return ItemSpec(
        "pass",
        f"{plan.name}: {months} month{'s' if months != 1 else ''} for {plates}",
        plan.price_minor,
        months,
        start,
        add_months(start, months),
    )


def _bill_months(
    session: Session,
    monthly: MonthlyPass,
    plan: PassPlan,
    months: int,
    start: datetime,
    user: User | None,
    request_id: str | None,
    kind: str,
    due_at: Callable[[datetime, PlanBillingRule], datetime],
) -> tuple[Invoice, PlanBillingRule, datetime]:
    """The invoice for ``months`` of ``monthly`` from ``start`` (and the legacy invoice line, marked billed)."""
    rule = plan_rule(session, plan.id)
    line = invoice_line(monthly, plan, months, start, user)
    line.billed = True
    session.add(line)
    now = utcnow()
    invoice = issue_invoice(
        session, user, holder_id=monthly.holder_id, car_park=pass_car_park(plan), kind=kind, currency=plan.currency,
        items=[_months_item(monthly, plan, months, start)], due_at=due_at(now, rule), pass_id=monthly.id,
        request_id=request_id, now=now,
    )  # fmt: skip
    return invoice, rule, now


def bill_pass_sale(
    session: Session,
    monthly: MonthlyPass,
    plan: PassPlan,
    months: int,
    start: datetime,
    user: User | None,
    request_id: str | None = None,
) -> Invoice:
    """The sale's invoice (and the legacy invoice line); holds the pass suspended until paid when the plan says so."""
    invoice, rule, now = _bill_months(session, monthly, plan, months, start, user, request_id, "pass_sale",
                                      lambda now, rule: now + timedelta(days=rule.due_days))  # fmt: skip
    invoice.period_applied = True
    if rule.activate_on == "payment" and invoice.status == "open":
        monthly.status = PassStatus.SUSPENDED.value
        session.add(PassHold(pass_id=monthly.id, reason="unpaid", invoice_id=invoice.id, since=now))
    return invoice


def bill_pass_renewal(
    session: Session,
    monthly: MonthlyPass,
    plan: PassPlan,
    months: int,
    start: datetime,
    user: User | None,
    request_id: str | None = None,
) -> bool:
    """The renewal's invoice; answers whether the pass is extended now (the caller extends it) or once paid."""
    invoice, rule, _now = _bill_months(session, monthly, plan, months, start, user, request_id, "pass_renewal",
                                       lambda now, rule: min(start, now + timedelta(days=rule.due_days)))  # fmt: skip
    if invoice.period_applied:  # paid from credit already: settlement extended the pass
        return False
    if rule.activate_on == "invoice":
        invoice.period_applied = True
        return True
    return False


def renewal_request_seen(session: Session, request_id: str | None) -> bool:
    """True when a renewal with this client request id was already billed (a retried call renews nothing)."""
    if not request_id:
        return False
    return session.scalars(select(Invoice.id).where(Invoice.request_id == request_id)).first() is not None


def unpaid_sales(session: Session, older_than_days: int, now: datetime | None = None) -> list[Invoice]:
    """Pass sales and renewals still open more than ``older_than_days`` after they were issued."""
    now = now or utcnow()
    return list(
        session.scalars(
            select(Invoice)
            .where(
                Invoice.kind.in_(["pass_sale", "pass_renewal"]),
                Invoice.status == "open",
                Invoice.issued_at < now - timedelta(days=older_than_days),
            )
            .order_by(Invoice.issued_at, Invoice.id)
        )
    )


def set_plan_rule(
    session: Session,
    actor: User | None,
    plan_id: int,
    *,
    activate_on: str,
    refund_mode: str,
    suspend_after_days: int | None,
    due_days: int,
) -> PlanBillingRule:
    """Create or change a plan's billing rule."""
    rule = session.get(PlanBillingRule, plan_id)
    before = snapshot(rule) if rule else None
    if rule is None:
        rule = PlanBillingRule(plan_id=plan_id)
        session.add(rule)
    rule.activate_on, rule.refund_mode = activate_on, refund_mode
    rule.suspend_after_days, rule.due_days = suspend_after_days, due_days
    session.flush()
    record_change(session, actor, "plan.billing_rule", "pass_plan", plan_id, before, snapshot(rule))
    return rule
