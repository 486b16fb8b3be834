"""The words the cashier's pages show for billing's codes: invoice and refund states, payment methods, the refusals
of the billing service beside the field they concern (msgids, translated in the templates)."""

from __future__ import annotations

from central.office.navigation import N_

INVOICE_STATES = {"open": N_("open"), "paid": N_("paid"), "void": N_("void")}
REFUND_STATES = {"requested": N_("requested"), "approved": N_("approved"), "rejected": N_("rejected"),
                 "paid": N_("paid out")}  # fmt: skip
METHODS = {"cash": N_("Cash"), "bank_transfer": N_("Bank transfer"), "bank_card": N_("Bank card"),
           "epay": N_("E-payment"), "direct_debit": N_("Direct debit"), "credit": N_("Account credit")}  # fmt: skip
DESK_METHODS = ("cash", "bank_transfer", "bank_card", "epay")
SCHEMES = {"cn": N_("Chinese bank (account number)"), "sepa": N_("SEPA (IBAN)")}
LINE_STATES = {"pending": N_("awaiting the bank"), "paid": N_("debited"), "failed": N_("failed")}

# billing's error code → (the field it is shown beside, the message)
BILLING_MESSAGES = {
    "payment.bad_amount": ("amount", N_("A payment must be more than zero.")),
    "payment.reference_required": (
        "reference",
        N_("This method needs its reference (transfer, card slip or e-payment)."),
    ),
    "invoice.not_open": ("amount", N_("This invoice is not open: it takes no payment.")),
    "invoice.in_debit_run": ("amount", N_("This invoice is in a direct-debit batch awaiting the bank's result.")),
    "drawer.not_open": ("method", N_("Open your drawer before taking cash.")),
    "drawer.currency": ("method", N_("Your drawer holds another currency.")),
    "invoice.paid_on": ("void_reason", N_("Money was taken on this invoice: refund it instead of voiding.")),
    "invoice.reason_required": ("void_reason", N_("Say why: the reason goes into the audit log.")),
    "refund.reason_required": ("refund_reason", N_("Say why: the reason goes into the audit log.")),
    "refund.bad_amount": ("refund_amount", N_("A refund must be more than zero.")),
    "refund.above_paid": ("refund_amount", N_("More than may still be refunded on this invoice.")),
    "refund.own_request": ("note", N_("You asked for this refund: another supervisor must decide it.")),
    "refund.not_requested": ("note", N_("This refund was decided already.")),
    "refund.not_approved": ("payout_method", N_("This refund is not approved.")),
    "refund.bad_method": ("payout_method", N_("A refund is not paid by direct debit.")),
    "mandate.bad_iban": ("account_number", N_("Not an IBAN, or its check digits do not match.")),
    "mandate.bad_account": ("account_number", N_("A Chinese bank account number is 12 to 25 digits.")),
    "mandate.bad_scheme": ("scheme", N_("Choose one of the offered values.")),
    "mandate.bad_bic": ("bic", N_("Not a BIC (8 or 11 letters and digits).")),
    "mandate.bad_reference": ("reference", N_("1 to 35 letters, digits or + ? / : ( ) . , ' - and spaces.")),
    "mandate.incomplete": ("bank", N_("A mandate needs the bank and the account name.")),
    "mandate.reference_in_use": ("reference", N_("This mandate reference is in use already.")),
    "debit.nothing_due": ("month", N_("No open invoice due by the end of this month has a mandate of this bank.")),
    "debit.no_profile": ("profile", N_("No such bank profile.")),
    "debit.unencodable": ("profile", N_("A name cannot be written in this bank's encoding.")),
}
