"""Prometheus collectors of the plate camera drivers (module level, labelled by device, so many drivers coexist)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

FRAMES = Counter("parkgate_lpr_events_total", "Camera events decoded", ["device", "kind"])
ERRORS = Counter("parkgate_lpr_errors_total", "Camera documents or connections that failed", ["device", "kind"])
REJECTED = Counter(
    "parkgate_lpr_rejected_total", "Camera reads refused: a field out of bounds (see drivers.lpr.fields)",
    ["device", "reason"],
)  # fmt: skip
REFUSED = Counter(
    "parkgate_lpr_refused_total", "Pushes and connections a camera listener refused before reading them",
    ["listener", "reason"],
)  # fmt: skip
RECONNECTS = Counter("parkgate_lpr_reconnects_total", "Reconnections to the MQTT broker", ["device"])
LATENCY = Histogram(
    "parkgate_lpr_decode_seconds", "Time from a document's arrival to its event on the queue", ["device"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1),
)  # fmt: skip
