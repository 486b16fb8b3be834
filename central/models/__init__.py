"""Every table of central; importing this package registers them all on ``Base.metadata``."""

from central.core.db import Base
from central.models.audit import AuditEntry
from central.models.billing import (
    BillingAccount,
    DebitBatch,
    DebitLine,
    DebitMandate,
    DebitResultImport,
    Drawer,
    DrawerBag,
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
from central.models.journal import ChainBreak, EdgeRecord, EdgeShiftReport, EdgeTransaction, QuarantinedRecord
from central.models.lists import Tariff, VehicleListEntry
from central.models.passes import InvoiceLine, MonthlyPass, PassPlan
from central.models.people import Holder, SignInAttempt, Unit, User, UserSession
from central.models.reconciliation import CashBag, MoneyRecord, ShiftReview, TariffVersion
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
    "DrawerBag",
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
    "MoneyRecord",
    "MonthlyPass",
    "NumberCounter",
    "PassHold",
    "PassPlan",
    "Payment",
    "PlanBillingRule",
    "QuarantinedRecord",
    "Refund",
    "ReminderDelivery",
    "ShiftReview",
    "SignInAttempt",
    "SyncClock",
    "SyncItem",
    "Tariff",
    "TariffVersion",
    "Unit",
    "User",
    "UserSession",
    "VehicleListEntry",
]
