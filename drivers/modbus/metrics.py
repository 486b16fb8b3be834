"""Prometheus collectors for the Modbus drivers: module-level, one series per ``device`` label, so creating many
drivers (tests do) never registers a metric twice."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

FRAMES = Counter("parkgate_modbus_frames_total", "Modbus frames sent and received", ["device", "direction"])
ERRORS = Counter("parkgate_modbus_errors_total", "Modbus request failures by kind", ["device", "kind"])
RECONNECTS = Counter("parkgate_modbus_reconnects_total", "Modbus links re-established after a loss", ["device"])
LATENCY = Histogram(
    "parkgate_modbus_request_seconds",
    "Modbus request round trip",
    ["device"],
    buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0),
)
