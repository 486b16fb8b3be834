"""The billing endpoints and the roles each admits, for ``test_roles`` (kept apart so the list merges easily)."""

from __future__ import annotations

from central.core.security import Role

READERS = frozenset({Role.ADMIN, Role.OFFICE, Role.CASHIER, Role.SUPERVISOR, Role.AUDITOR, Role.FRONT_DESK})
BOOKS = frozenset({Role.ADMIN, Role.OFFICE, Role.CASHIER, Role.SUPERVISOR, Role.AUDITOR})
SELLERS = frozenset({Role.ADMIN, Role.FRONT_DESK, Role.OFFICE})
CASHIERS = frozenset({Role.ADMIN, Role.CASHIER})
APPROVERS = frozenset({Role.ADMIN, Role.SUPERVISOR})
FINANCE = frozenset({Role.ADMIN, Role.OFFICE})
DUNNING = frozenset({Role.ADMIN, Role.CASHIER, Role.SUPERVISOR})
REMINDERS = frozenset({Role.ADMIN, Role.FRONT_DESK, Role.COLLECTOR, Role.CASHIER})
B = "/api/v1/billing"
MONTHS = "?first=2026-01&last=2026-02"

BILLING_ENDPOINTS = [
    ("get", f"{B}/fee-items", f"{B}/fee-items", READERS),
    ("put", f"{B}/fee-items/{{code}}", f"{B}/fee-items/card_deposit", FINANCE),
    ("put", f"{B}/plans/{{plan_id}}/rule", f"{B}/plans/999999/rule", FINANCE),
    ("get", f"{B}/accounts", f"{B}/accounts", BOOKS),
    ("get", f"{B}/invoices", f"{B}/invoices", READERS),
    ("post", f"{B}/invoices", f"{B}/invoices", SELLERS),
    ("get", f"{B}/invoices/{{invoice_id}}", f"{B}/invoices/999999", READERS),
    ("post", f"{B}/invoices/{{invoice_id}}/void", f"{B}/invoices/999999/void", CASHIERS),
    ("get", f"{B}/unpaid-sales", f"{B}/unpaid-sales", BOOKS),
    ("post", f"{B}/invoices/{{invoice_id}}/payments", f"{B}/invoices/999999/payments", CASHIERS),
    ("get", f"{B}/payments/{{payment_id}}/receipt.pdf", f"{B}/payments/999999/receipt.pdf", CASHIERS),
    ("get", f"{B}/refunds", f"{B}/refunds", BOOKS),
    ("post", f"{B}/invoices/{{invoice_id}}/refunds", f"{B}/invoices/999999/refunds", CASHIERS),
    ("post", f"{B}/refunds/{{refund_id}}/approve", f"{B}/refunds/999999/approve", APPROVERS),
    ("post", f"{B}/refunds/{{refund_id}}/reject", f"{B}/refunds/999999/reject", APPROVERS),
    ("post", f"{B}/refunds/{{refund_id}}/pay", f"{B}/refunds/999999/pay", CASHIERS),
    ("post", f"{B}/drawer/open", f"{B}/drawer/open", CASHIERS),
    ("post", f"{B}/drawer/close", f"{B}/drawer/close", CASHIERS),
    ("get", f"{B}/drawers", f"{B}/drawers", BOOKS),
    ("get", f"{B}/bags", f"{B}/bags", BOOKS),
    ("post", f"{B}/mandates", f"{B}/mandates", CASHIERS),
    ("get", f"{B}/mandates", f"{B}/mandates", BOOKS),
    ("post", f"{B}/mandates/{{mandate_id}}/revoke", f"{B}/mandates/999999/revoke", CASHIERS),
    ("post", f"{B}/debit-runs", f"{B}/debit-runs", CASHIERS),
    ("get", f"{B}/debit-batches", f"{B}/debit-batches", BOOKS),
    ("get", f"{B}/debit-batches/{{batch_id}}", f"{B}/debit-batches/999999", BOOKS),
    ("get", f"{B}/debit-batches/{{batch_id}}/file", f"{B}/debit-batches/999999/file", CASHIERS),
    ("get", f"{B}/debit-batches/{{batch_id}}/lines", f"{B}/debit-batches/999999/lines", BOOKS),
    ("post", f"{B}/debit-results", f"{B}/debit-results?profile=cn-icbc-gbk&file_name=r.csv", CASHIERS),
    ("get", f"{B}/debit-results", f"{B}/debit-results", BOOKS),
    ("get", f"{B}/arrears", f"{B}/arrears", BOOKS),
    ("get", f"{B}/arrears/ageing", f"{B}/arrears/ageing", BOOKS),
    ("get", f"{B}/arrears/export", f"{B}/arrears/export", BOOKS),
    ("get", f"{B}/dunning", f"{B}/dunning", BOOKS),
    ("post", f"{B}/arrears/suspend", f"{B}/arrears/suspend", DUNNING),
    ("get", f"{B}/statistics", f"{B}/statistics{MONTHS}", BOOKS),
    ("get", f"{B}/statistics/export", f"{B}/statistics/export{MONTHS}", BOOKS),
    ("post", f"{B}/reminders/deliveries", f"{B}/reminders/deliveries", REMINDERS),
    ("get", f"{B}/reminders/deliveries", f"{B}/reminders/deliveries", REMINDERS),
]
