"""Which pages each role may open, the navigation it sees (only the pages it may open), and where it lands after
signing in. One table: a page's route checks the same roles its link is shown to.

Adding a page (the billing pages fill the slots below): set the slot's ``available=True`` (or add
an :class:`OfficePage`), write a route module in ``central/office/pages/`` whose routes take ``page("<key>")`` as
their operator dependency and ``PostedForm`` for a POST (the CSRF check), answer ``pages.render(...)`` or
``redirect(...)``, include its router in :func:`central.office.install_office`, add one template per page
extending ``base.html``, then extract the new messages and translate them in every catalogue (see README).
"""

from __future__ import annotations

from dataclasses import dataclass

from central.core.security import Role


def N_(message: str) -> str:  # noqa: N802 (the gettext convention for a message translated later)
    """Marks ``message`` for the catalogues; the template translates it when the page is rendered."""
    return message


@dataclass(frozen=True)
class OfficePage:
    key: str
    path: str
    label: str  # a msgid, translated in the template
    roles: frozenset[Role]
    section: str  # a msgid: the navigation's heading
    available: bool = True  # False: a slot kept for a page another issue brings (shown greyed, not a link)
    in_navigation: bool = True


_FRONT = frozenset({Role.ADMIN, Role.FRONT_DESK})
_LISTS = frozenset({Role.ADMIN, Role.FRONT_DESK, Role.SUPERVISOR})
_REMINDERS = frozenset({Role.ADMIN, Role.FRONT_DESK, Role.SUPERVISOR, Role.COLLECTOR})
_CASHIER = frozenset({Role.ADMIN, Role.CASHIER})
_FINANCE = frozenset({Role.ADMIN, Role.OFFICE})
_SUPERVISION = frozenset({Role.ADMIN, Role.SUPERVISOR, Role.AUDITOR})
_SHIFTS = frozenset({Role.ADMIN, Role.SUPERVISOR, Role.AUDITOR, Role.OFFICE})
_BOOKS = frozenset({Role.ADMIN, Role.OFFICE, Role.CASHIER, Role.SUPERVISOR, Role.AUDITOR})  # billing's BookReaders
_REFUNDS = frozenset({Role.ADMIN, Role.CASHIER, Role.SUPERVISOR, Role.AUDITOR})
_APPROVERS = frozenset({Role.ADMIN, Role.SUPERVISOR})
_SIGNERS = frozenset({Role.SUPERVISOR})  # a shift's sign-off: separation of duties keeps the admin out
_BAGS = frozenset({Role.ADMIN, Role.CASHIER, Role.SUPERVISOR, Role.AUDITOR})
_REPORTS = frozenset({Role.ADMIN, Role.SUPERVISOR, Role.AUDITOR, Role.OFFICE})
_REVENUE = _REPORTS | {Role.CASHIER}


def _action(key: str, path: str, label: str, roles: frozenset[Role], section: str) -> OfficePage:
    """An action's page: its route checks these roles, and it has no link of its own (its form sits on a page)."""
    return OfficePage(key, path, label, roles, section, in_navigation=False)


FRONT_DESK, CASHIER, SUPERVISION, FINANCE, ADMINISTRATION, REPORTS = (
    N_("Front desk"), N_("Cashier"), N_("Supervision"), N_("Finance office"), N_("Administration"), N_("Reports"),
)  # fmt: skip

PAGES: dict[str, OfficePage] = {
    page.key: page
    for page in (
        OfficePage("desk", "/office/desk", N_("Find a holder"), _FRONT, FRONT_DESK),
        OfficePage("holder_new", "/office/holders/new", N_("Register a holder"), _FRONT, FRONT_DESK),
        _action("holder", "/office/holders", N_("Holder"), _FRONT, FRONT_DESK),
        OfficePage("units", "/office/units", N_("Units"), _FRONT, FRONT_DESK),
        OfficePage("renewals_today", "/office/renewals/today", N_("Renewals due today"), _FRONT, FRONT_DESK),
        OfficePage("reminders", "/office/reminders", N_("Renewal reminders"), _REMINDERS, FRONT_DESK),
        OfficePage("vehicles", "/office/vehicles", N_("Free, special and blacklist"), _LISTS, FRONT_DESK),
        OfficePage("cashier", "/office/cashier", N_("Cashier's desk"), _CASHIER, CASHIER),
        OfficePage("drawer", "/office/drawer", N_("My drawer"), _CASHIER, CASHIER),
        OfficePage("bags", "/office/bags", N_("Cash bags"), _BAGS, CASHIER),
        # The cashier records each custody step; the others read the bags and their history.
        _action("bag_custody", "/office/bags/custody", N_("Cash bag custody"), frozenset({Role.CASHIER}), CASHIER),
        OfficePage("invoices", "/office/invoices", N_("Invoices and payments"), _BOOKS, CASHIER),
        # Taking payments, voiding and asking for refunds: the cashier (billing's Cashiers); deciding: a supervisor.
        _action("invoice_actions", "/office/invoices/actions", N_("Take a payment"), _CASHIER, CASHIER),
        OfficePage("refunds", "/office/refunds", N_("Refunds"), _REFUNDS, CASHIER),
        _action("refund_decision", "/office/refunds/decide", N_("Decide a refund"), _APPROVERS, CASHIER),
        # Direct debit: the cashier records mandates, runs batches and imports results; supervisors, auditors read.
        OfficePage("mandates", "/office/mandates", N_("Debit mandates"), _REFUNDS, CASHIER),
        OfficePage("debit_runs", "/office/debit-runs", N_("Direct debit"), _REFUNDS, CASHIER),
        _action("debit_actions", "/office/debit-runs/actions", N_("Run direct debit"), _CASHIER, CASHIER),
        OfficePage("arrears", "/office/arrears", N_("Arrears ledger"), _BOOKS, CASHIER),
        OfficePage("statistics", "/office/statistics", N_("Collection statistics"), _BOOKS, CASHIER),
        OfficePage("supervisor", "/office/supervisor", N_("Shift reports"), _SHIFTS, SUPERVISION),
        OfficePage("reconciliation", "/office/reconciliation", N_("Reconciliation queue"), _SUPERVISION, SUPERVISION),
        # Signing off or flagging a shift: supervisors only (admins and auditors read).
        _action("shift_review", "/office/reconciliation/review", N_("Review a shift"), _SIGNERS, SUPERVISION),
        # The edges' evidence images, shown on the reconciliation pages.
        _action("evidence", "/office/evidence", N_("Evidence image"), _SUPERVISION, SUPERVISION),
        OfficePage("remote_vends", "/office/remote-vends", N_("Remote vend"), _SUPERVISION, SUPERVISION),
        _action("remote_vend_open", "/office/remote-vends/open", N_("Open a lane remotely"), _APPROVERS, SUPERVISION),
        OfficePage("audit", "/office/audit", N_("Audit log"), _SUPERVISION, SUPERVISION),
        OfficePage("chain_breaks", "/office/chain-breaks", N_("Chain breaks"), _SUPERVISION, SUPERVISION),
        # A data-subject request: one plate's records shown and exported, as the API's exporters may.
        OfficePage(
            "plate_records", "/office/plate-records", N_("Plate records (data subject)"), _APPROVERS, SUPERVISION
        ),
        OfficePage("reports_revenue", "/office/reports/revenue", N_("Revenue"), _REVENUE, REPORTS),
        OfficePage("reports_traffic", "/office/reports/traffic", N_("Traffic and occupancy"), _REPORTS, REPORTS),
        OfficePage("reports_exceptions", "/office/reports/exceptions", N_("Exceptions"), _REPORTS, REPORTS),
        OfficePage(
            "reports_vehicle_log", "/office/reports/vehicle-log", N_("Free and special vehicles"), _REPORTS, REPORTS
        ),
        OfficePage("reports_device_faults", "/office/reports/device-faults", N_("Device faults"), _REPORTS, REPORTS),
        OfficePage("finance", "/office/finance", N_("Pass plans"), _FINANCE, FINANCE),
        OfficePage("users", "/office/users", N_("Users"), frozenset({Role.ADMIN}), ADMINISTRATION),
    )
}

LANDING: dict[Role, str] = {
    Role.FRONT_DESK: "desk",
    Role.CASHIER: "cashier",
    Role.SUPERVISOR: "supervisor",
    Role.OFFICE: "finance",
    Role.ADMIN: "users",
    Role.AUDITOR: "audit",
    Role.COLLECTOR: "reminders",
}


@dataclass(frozen=True)
class NavSection:
    title: str
    pages: list[OfficePage]


def navigation_for(role: Role) -> list[NavSection]:
    """The sections and links ``role`` sees: only pages it may open, slots included (greyed)."""
    sections: dict[str, list[OfficePage]] = {}
    for page in PAGES.values():
        if page.in_navigation and role in page.roles:
            sections.setdefault(page.section, []).append(page)
    return [NavSection(title, pages) for title, pages in sections.items()]


def landing_path(role: Role) -> str:
    return PAGES[LANDING[role]].path
