"""The edge's Prometheus metrics, in a registry of its own (so tests and several edges in a process stay apart)."""

from __future__ import annotations

import contextlib
import logging

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from drivers.health import Health, HealthChange
from drivers.lpr import metrics as lpr_metrics
from edge.lanes.actions import Alert
from edge.lanes.park import ParkState

_LOGGER = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0)


class EdgeMetrics:
    """Implements :class:`edge.runner.LaneObserver`; the daemon also feeds it device health, backlog, occupancy."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.decisions = Counter(
            "parkgate_edge_decisions", "Lane decisions by outcome", ["lane", "direction", "outcome", "identity"],
            registry=r,
        )  # fmt: skip
        self.latency = Histogram(
            "parkgate_edge_decision_latency_seconds",
            "From the last input a decision needed to the barrier command leaving the driver layer",
            ["direction"], buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.barrier = Counter(
            "parkgate_edge_barrier_commands", "Barrier commands sent", ["lane", "command"], registry=r
        )
        self.alerts = Counter("parkgate_edge_alerts", "Alerts raised to the booth", ["lane", "kind"], registry=r)
        self.device_health = Gauge(
            "parkgate_edge_device_health", "1 for the device's current health state", ["device", "state"], registry=r
        )
        self.outbox_backlog = Gauge("parkgate_edge_outbox_backlog", "Journal records central has not acknowledged",
                                    registry=r)  # fmt: skip
        self.occupancy = Gauge("parkgate_edge_occupancy", "Vehicles inside by class", ["vehicle_class"], registry=r)
        self.capacity = Gauge("parkgate_edge_capacity", "Spaces by class", ["vehicle_class"], registry=r)
        self.commit_seconds = Histogram(
            "parkgate_edge_journal_commit_seconds", "Journal commit time (one group commit)",
            buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.bad_input = Counter("parkgate_edge_bad_input", "Device or network input refused", ["source"], registry=r)
        self.lists_version = Gauge("parkgate_edge_lists_version", "Version of central's lists held", registry=r)
        self.lanes_out_of_service = Gauge("parkgate_edge_lanes_out_of_service", "Lanes stopped by a fault",
                                          registry=r)  # fmt: skip
        # The camera drivers' counters (module level, labelled by device) are shown here too: refused and rejected
        # pushes are the edge's business. Registered only if this registry has not got them already.
        for collector in (lpr_metrics.FRAMES, lpr_metrics.ERRORS, lpr_metrics.REJECTED, lpr_metrics.REFUSED,
                          lpr_metrics.RECONNECTS, lpr_metrics.LATENCY):  # fmt: skip
            with contextlib.suppress(ValueError):
                r.register(collector)

    # LaneObserver
    def decided(self, lane: str, direction: str, outcome: str, identity: str, reason: str) -> None:
        self.decisions.labels(lane, direction, outcome, identity).inc()

    def barrier_command(self, lane: str, command: str, latency_s: float | None) -> None:
        self.barrier.labels(lane, command).inc()
        if latency_s is not None:
            self.latency.labels("open").observe(latency_s)

    def alert(self, lane: str, alert: Alert) -> None:
        self.alerts.labels(lane, alert.kind).inc()
        _LOGGER.warning(
            "alert %s at %s: %s", alert.kind, lane, alert.message, extra={"lane": lane, "alert": alert.kind}
        )

    # the rest of the edge
    def health(self, change: HealthChange) -> None:
        for state in Health:
            self.device_health.labels(change.device, state.value).set(1 if state is change.health else 0)

    def committed(self, seconds: float, records: int) -> None:
        self.commit_seconds.observe(seconds)

    def park(self, park: ParkState) -> None:
        for vehicle_class, count in park.occupancy.items():
            self.occupancy.labels(vehicle_class).set(count)
            self.capacity.labels(vehicle_class).set(park.capacity[vehicle_class])

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
