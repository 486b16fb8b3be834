"""What a reconciliation finds: each finding has a stable ``code``, a severity and the records it is about.

``exception`` findings need the supervisor (a shift with one is not clean); ``info`` findings are listed for the
record (a difference central cannot judge while records are missing, a late record already reviewed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["exception", "info"]


@dataclass(frozen=True, slots=True)
class Finding:
    code: str
    message: str
    severity: Severity = "exception"
    records: tuple[str, ...] = ()
    detail: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """JSON-ready (the API's and the CLI's form)."""
        return {"code": self.code, "severity": self.severity, "message": self.message, "records": list(self.records),
                "detail": self.detail}  # fmt: skip


@dataclass(frozen=True, slots=True)
class ReconcileSettings:
    """The thresholds of the checks (central's settings ``PARKGATE_RECON_*``)."""

    peer_factor: float = 3.0  # a collector's rate above this many times the car park's median is flagged
    peer_min_gap: float = 5.0  # ... and at least this many per 100 exits above it
    peer_min_exits: int = 20  # a collector with fewer exits in the period is not compared
    peer_min_collectors: int = 3  # a median of fewer collectors means nothing
    bag_step_hours: float = 24.0  # a bag may wait this long for its next custody step
