"""Every table of central; importing this package registers them all on ``Base.metadata``."""

from central.core.db import Base
from central.models.audit import AuditEntry
from central.models.billing import (
    BillingAccount,
    CashBag,
    DebitBatch,
    DebitLine,
    DebitMandate,
    DebitResultImport,
    Drawer,
    FeeItem,
    Invoice,
    InvoiceItem,
    NumberCounter,
    PassHold,
    Payment,
    PlanBillingRule,
    Refund,
    ReminderDelivery,
)
from central.models.cards import AccessCard, AccessGroup
from central.models.journal import ChainBreak, EdgeRecord, EdgeShiftReport, EdgeTransaction
from central.models.lists import Tariff, VehicleListEntry
from central.models.passes import InvoiceLine, MonthlyPass, PassPlan
from central.models.people import Holder, Unit, User, UserSession
from central.models.registry import CarPark, Edge, Lane
from central.models.sync import SyncClock, SyncItem

__all__ = [
    "AccessCard",
    "AccessGroup",
    "AuditEntry",
    "Base",
    "BillingAccount",
    "CarPark",
    "CashBag",
    "ChainBreak",
    "DebitBatch",
    "DebitLine",
    "DebitMandate",
    "DebitResultImport",
    "Drawer",
    "Edge",
    "EdgeRecord",
    "EdgeShiftReport",
    "EdgeTransaction",
    "FeeItem",
    "Holder",
    "Invoice",
    "InvoiceItem",
    "InvoiceLine",
    "Lane",
    "MonthlyPass",
    "NumberCounter",
    "PassHold",
    "PassPlan",
    "Payment",
    "PlanBillingRule",
    "Refund",
    "ReminderDelivery",
    "SyncClock",
    "SyncItem",
    "Tariff",
    "Unit",
    "User",
    "UserSession",
    "VehicleListEntry",
]
