"""The words the pages show for the codes central stores: roles, statuses, list kinds, vehicle categories (msgids,
translated in the templates)."""

from __future__ import annotations

from central.office.navigation import N_

ROLE_LABELS = {
    "admin": N_("Administrator"), "office": N_("Finance office"), "cashier": N_("Cashier"),
    "supervisor": N_("Supervisor"), "front_desk": N_("Front desk"), "collector": N_("Toll collector"),
    "auditor": N_("Auditor"),
}  # fmt: skip

STATUS_LABELS = {
    "active": N_("active"), "suspended": N_("suspended"), "expired": N_("expired"), "cancelled": N_("cancelled"),
    "lost": N_("lost"), "revoked": N_("revoked"), "replaced": N_("replaced"),
}  # fmt: skip

LIST_LABELS = {"free": N_("Free vehicle"), "special": N_("Special vehicle"), "blacklist": N_("Blacklist")}

CATEGORY_LABELS = {
    "police": N_("Police"), "military": N_("Military"), "fire": N_("Fire service"), "ambulance": N_("Ambulance"),
    "rescue": N_("Engineering rescue"), "government": N_("Government"), "staff": N_("Staff"), "hearse": N_("Hearse"),
    "vip": N_("VIP"), "contractor": N_("Contractor"), "delivery": N_("Delivery"), "other": N_("Other"),
}  # fmt: skip


def label(table: dict[str, str], code: str) -> str:
    """The msgid for ``code``, or the code itself where there is none (shown as stored)."""
    return table.get(code, code)
