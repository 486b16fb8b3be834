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
from central.models.lists import Tariff, TariffRelease, VehicleListEntry
from central.models.passes import InvoiceLine, MonthlyPass, PassPlan
from central.models.payments import (
    ExitQuote,
    PaymentNotification,
    PaymentOrder,
    PaymentSettlement,
    StatementLine,
)
from central.models.people import Holder, SignInAttempt, Unit, User, UserSession
from central.models.reconciliation import CashBag, MoneyRecord, ShiftReview, TariffVersion
from central.models.registry import CarPark, Edge, Lane
from central.models.remote_vends import RemoteVend
from central.models.reports import DeviceFault, ReportDaily, ReportHourly
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
    "DeviceFault",
    "Drawer",
    "DrawerBag",
    "Edge",
    "EdgeRecord",
    "EdgeShiftReport",
    "EdgeTransaction",
    "ExitQuote",
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
    "PaymentNotification",
    "PaymentOrder",
    "PaymentSettlement",
    "PlanBillingRule",
    "QuarantinedRecord",
    "Refund",
    "ReminderDelivery",
    "RemoteVend",
    "ReportDaily",
    "ReportHourly",
    "ShiftReview",
    "SignInAttempt",
    "StatementLine",
    "SyncClock",
    "SyncItem",
    "Tariff",
    "TariffRelease",
    "TariffVersion",
    "Unit",
    "User",
    "UserSession",
    "VehicleListEntry",
]
