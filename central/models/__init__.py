"""Every table of central; importing this package registers them all on ``Base.metadata``."""

from central.core.db import Base
from central.models.audit import AuditEntry
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
    "CarPark",
    "CashBag",
    "ChainBreak",
    "Edge",
    "EdgeRecord",
    "EdgeShiftReport",
    "EdgeTransaction",
    "Holder",
    "InvoiceLine",
    "Lane",
    "MoneyRecord",
    "MonthlyPass",
    "PassPlan",
    "QuarantinedRecord",
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
