"""Prometheus metrics of one app instance, on its own registry (so several apps in one process never clash)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import Session, aliased, sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from central.core.revocation import RevocationList
from central.models import Edge, EdgeShiftReport, ShiftReview, SyncClock

_LOGGER = logging.getLogger(__name__)


class SyncLagCollector(Collector):
    """Sync lag per edge, read from the database at scrape time: central's version minus the edge's last one."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def collect(self) -> Iterator[Metric]:
        lag = GaugeMetricFamily(
            "parkgate_central_sync_lag_versions", "central's list version minus the version the edge last synced",
            labels=["edge"],
        )  # fmt: skip
        try:
            with self._sessions() as session:
                clock = session.execute(select(SyncClock.version).where(SyncClock.id == 1)).scalar_one_or_none() or 0
                for edge_id, synced in session.execute(
                    select(Edge.id, Edge.synced_version).where(Edge.revoked_at.is_(None))
                ):
                    lag.add_metric([edge_id], max(0, clock - synced))
        except Exception:  # a scrape must answer even when the database does not
            _LOGGER.warning("sync lag unavailable", exc_info=True)
        yield lag


UNRECONCILED_AFTER = timedelta(hours=24)


def unreconciled_shifts(session: Session, now: datetime) -> dict[str, int]:
    """Shifts whose closing report is more than 24 h old and that no supervisor has signed off since it arrived
    (never reviewed, flagged, or sent back to review by a later revision), by car park."""
    later = aliased(EdgeShiftReport)
    newer = exists().where(later.car_park == EdgeShiftReport.car_park, later.shift == EdgeShiftReport.shift,
                           later.revision > EdgeShiftReport.revision)  # fmt: skip
    signed_off = exists().where(
        ShiftReview.shift == EdgeShiftReport.shift, ShiftReview.state == "signed_off",
        ShiftReview.decided_at >= EdgeShiftReport.at,
    )  # fmt: skip
    rows = session.execute(
        select(EdgeShiftReport.car_park, func.count())
        .where(and_(EdgeShiftReport.at < now - UNRECONCILED_AFTER, ~signed_off, ~newer))
        .group_by(EdgeShiftReport.car_park)
    )  # fmt: skip
    return {car_park: int(count) for car_park, count in rows}


class UnreconciledShiftsCollector(Collector):
    """Shifts not reconciled 24 h after closing, per car park, read at scrape time (an alert rule watches it)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def collect(self) -> Iterator[Metric]:
        gauge = GaugeMetricFamily(
            "parkgate_central_shifts_unreconciled_after_24h",
            "shifts closed more than 24 h ago whose report is refused or shows a difference", labels=["car_park"],
        )  # fmt: skip
        try:
            with self._sessions() as session:
                for car_park, count in unreconciled_shifts(session, datetime.now(UTC)).items():
                    gauge.add_metric([car_park], count)
        except Exception:  # a scrape must answer even when the database does not
            _LOGGER.warning("unreconciled shifts unavailable", exc_info=True)
        yield gauge


class RevocationListCollector(Collector):
    """The client CA's revocation list in force, looked at again at scrape time (so that a refused reload shows
    without an edge's request): when it was loaded, its next update, what it revokes, reloads refused by reason."""

    def __init__(self, revocations: RevocationList) -> None:
        self._revocations = revocations

    def collect(self) -> Iterator[Metric]:
        crl = self._revocations.refresh()
        yield GaugeMetricFamily(
            "parkgate_central_tls_crl_loaded_timestamp_seconds",
            "when the client CRL in force was read (Unix time)",
            value=crl.loaded_at.timestamp(),
        )
        if crl.next_update is not None:
            yield GaugeMetricFamily(
                "parkgate_central_tls_crl_next_update_timestamp_seconds",
                "the next update of the client CRL in force (Unix time): past it, publish a fresh one",
                value=crl.next_update.timestamp(),
            )
        yield GaugeMetricFamily(
            "parkgate_central_tls_crl_revoked_certificates",
            "client certificates the CRL in force revokes",
            value=len(crl.revoked),
        )
        refused = CounterMetricFamily(
            "parkgate_central_tls_crl_reloads_refused",
            "changed client CRL files not used (the list in force stays), by reason: "
            "unreadable, not_a_crl, not_signed_by_ca, older, ca_unreadable",
            labels=["reason"],
        )
        for reason, count in sorted(self._revocations.refusals().items()):
            refused.add_metric([reason], count)
        yield refused


class CentralMetrics:
    def __init__(self, sessions: sessionmaker[Session], revocations: RevocationList | None = None) -> None:
        self.registry = CollectorRegistry()
        self.request_seconds = Histogram(
            "parkgate_central_request_seconds", "HTTP request latency by route", ["method", "route", "status"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
        )  # fmt: skip
        self.ingest_records = Counter(
            "parkgate_central_ingest_records", "journal records stored from edges", ["edge"], registry=self.registry
        )
        self.ingest_duplicates = Counter(
            "parkgate_central_ingest_duplicates", "journal records received again (already stored)", ["edge"],
            registry=self.registry,
        )  # fmt: skip
        self.ingest_rejected = Counter(
            "parkgate_central_ingest_rejected", "journal records refused", ["edge", "code"], registry=self.registry
        )
        self.ingest_quarantined = Counter(
            "parkgate_central_ingest_quarantined", "journal records kept as received but not projected (outside the "
            "wire bounds or refused by the database)", ["edge", "reason"], registry=self.registry,
        )  # fmt: skip
        self.chain_breaks = Counter(
            "parkgate_central_chain_breaks", "hash-chain breaks flagged", ["edge", "reason"], registry=self.registry
        )
        self.invalid_shift_reports = Counter(
            "parkgate_central_invalid_shift_reports", "shift reports stored but flagged: they do not validate",
            ["edge"], registry=self.registry,
        )  # fmt: skip
        self.security_alerts = Counter(
            "parkgate_central_edge_security_alerts", "security_alert records from edges (e.g. a booth's sign-in flood)",
            ["edge"], registry=self.registry,
        )  # fmt: skip
        self.logins = Counter(
            "parkgate_central_logins", "login attempts by outcome: ok, failed, refused (rate limit or account delay)",
            ["outcome"], registry=self.registry,
        )  # fmt: skip
        self.edge_auth_refused = Counter(
            "parkgate_central_edge_auth_refused", "edge requests refused before any work: auth.missing_token, "
            "auth.invalid_edge_token, auth.certificate_missing, auth.certificate_mismatch, auth.certificate_revoked",
            ["code"],
            registry=self.registry,
        )  # fmt: skip
        self.sync_items = Counter(
            "parkgate_central_sync_items", "list records and deletions sent to edges", ["edge"], registry=self.registry
        )
        self.payment_notifications = Counter(
            "parkgate_central_payment_notifications", "providers' payment notifications by outcome: applied, "
            "duplicate, ignored, refused.signature, refused.stale, refused.unknown_order, refused.amount_differs ...",
            ["provider", "outcome"], registry=self.registry,
        )  # fmt: skip
        self.rate_limited = Counter(
            "parkgate_central_rate_limited", "driver-facing requests refused past their limit (pay_page, notify)",
            ["endpoint"], registry=self.registry,
        )  # fmt: skip
        self.payment_orders = Counter(
            "parkgate_central_payment_orders", "payment orders placed with a provider", ["provider"],
            registry=self.registry,
        )  # fmt: skip
        self.registry.register(SyncLagCollector(sessions))
        self.registry.register(UnreconciledShiftsCollector(sessions))
        if revocations is not None:
            self.registry.register(RevocationListCollector(revocations))


class RequestTimer:
    """ASGI middleware timing every request by its route template (``/api/v1/passes/{pass_id}``)."""

    def __init__(self, app: ASGIApp, metrics: CentralMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = [500]

        async def send_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_status)
        finally:
            route: Any = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.request_seconds.labels(scope["method"], template, str(status[0])).observe(
                time.perf_counter() - started
            )
