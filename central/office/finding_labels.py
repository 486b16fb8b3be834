"""The words the reconciliation pages show for what central stores as codes: a shift's state, each kind of
finding, the collectors' rates, a bag's custody step (msgids, translated in the templates)."""

from __future__ import annotations

from central.office.navigation import N_

SHIFT_STATES = {
    "awaiting_report": N_("awaiting report"), "to_review": N_("to review"), "flagged": N_("flagged"),
    "signed_off": N_("signed off"),
}  # fmt: skip

FINDINGS = {
    "cash.shortage": N_("Cash shortage (短款)"),
    "cash.surplus": N_("Cash surplus (长款)"),
    "cash.expected_differs": N_("The edge's expected cash differs from central's"),
    "payments.method_total_differs": N_("A payment method's total differs from the report"),
    "bags.report_differs": N_("The journal's cash drops are not the report's bags"),
    "cards.collected_exceeds_issued": N_("More temporary cards collected than were out"),
    "cards.count_differs": N_("The report's card counts differ from the journal"),
    "free_passes.count_differs": N_("The report's free and special vehicle counts differ from the journal"),
    "barrier.opening_unexplained": N_("Barrier openings that name no stored record"),
    "barrier.opened_without_record": N_("Barrier opened without a command or record"),
    "fee.charged_below_tariff": N_("Fee re-check: charged below the tariff"),
    "fee.charged_above_tariff": N_("Fee re-check: charged above the tariff"),
    "fee.recheck_failed": N_("Fee re-check: the fee cannot be re-computed"),
    "tariff.unresolved": N_("Fee re-check: central lacks the tariff version"),
    "tariff.invalid": N_("Fee re-check: the tariff version does not compile"),
    "report.invalid": N_("The closing report does not validate"),
    "lost_card.entry_on_record": N_("Lost-card fee for a vehicle whose entry is on record"),
    "chain.break": N_("The edge's record chain is broken"),
    "chain.gap": N_("Records missing from the edge's chain"),
    "records.late": N_("Records that arrived after the review"),
    "collector.rate_above_peers": N_("Collector far above the car park's median"),
    "bag.not_picked_up": N_("Cash bag not picked up in time"),
    "bag.not_counted": N_("Cash bag not counted in time"),
    "bag.not_deposited": N_("Cash bag not deposited in time"),
    "bag.count_differs": N_("Cash bag: counted differs from declared"),
}

RATES = {
    "lost_card": N_("lost cards"), "manual_open": N_("manual opens"), "waiver": N_("waivers"),
    "reversal": N_("reversals"), "unpaid": N_("unpaid exits"),
}  # fmt: skip

BAG_STATES = {
    "dropped": N_("dropped, waiting for pick-up"), "picked_up": N_("picked up, waiting for the count"),
    "counted": N_("counted, waiting for the deposit"), "deposited": N_("deposited"),
}  # fmt: skip

METHODS = {"cash": N_("Cash"), "epay": N_("E-payment"), "bank_card": N_("Bank card")}

FEE_LINES = {
    "stay": N_("stay"), "cycle_cap": N_("cycle cap"), "free_period": N_("free period"), "lost_card": N_("lost card"),
    "paid": N_("paid before"), "coupon": N_("coupon"), "grace": N_("grace"),
}  # fmt: skip
