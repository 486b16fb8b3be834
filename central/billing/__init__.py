"""Central billing: accounts and invoices, payments and receipts, refunds, the office cashier's drawer, bank direct
debit, the arrears ledger, renewal reminders, collection statistics and exports.

Every public function takes a SQLAlchemy ``Session`` and the acting ``User`` (or ``None`` for the system), writes
the audit log in the same transaction and leaves the commit to the caller, so the API routes and the office console
share one implementation.
"""
