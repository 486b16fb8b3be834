"""The Grafana dashboard and the Prometheus alert rules in ``config/`` use only metrics the edge, central and the
drivers export, with labels those metrics have (read from the real registries, not from a list kept here)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry
from prometheus_client.metrics import MetricWrapperBase

import drivers.lpr.metrics
import drivers.modbus.metrics
from central.core.db import make_engine, make_session_factory
from central.metrics import CentralMetrics
from edge.console.metrics import EdgeMetrics

CONFIG = Path(__file__).resolve().parents[2] / "config"
_NAME = re.compile(r"\b(parkgate_[a-z0-9_]+)\b")
_SELECTOR = re.compile(r"\b(parkgate_[a-z0-9_]+)\{([^}]*)\}")
_LABEL = re.compile(r"(\w+)\s*(?:=~|!~|!=|=)")
_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "summary": ("_count", "_sum")}


def _exposed(registry: CollectorRegistry) -> dict[str, set[str]]:
    """Every series name the registry exposes (``_total``, ``_bucket``... included) with its label names."""
    names: dict[str, set[str]] = {}
    collectors: Iterable[Any] = registry._collector_to_names  # the registry's own list of collectors
    for collector in list(collectors):
        labels = set(getattr(collector, "_labelnames", ()))
        for family in collector.collect():
            labels |= set(getattr(family, "_labelnames", ()))  # a collector's family names its labels
            for sample in family.samples:
                labels |= set(sample.labels)
            for suffix in (*_SUFFIXES.get(family.type, ()), ""):
                extra = {"le"} if suffix == "_bucket" else set()
                names.setdefault(family.name + suffix, set()).update(labels | extra)
    return names


def known_metrics() -> dict[str, set[str]]:
    engine = make_engine("sqlite://")  # no tables: the collectors read the database at scrape and answer anyway
    central = CentralMetrics(make_session_factory(engine))
    known = _exposed(EdgeMetrics().registry) | _exposed(central.registry)
    drivers_registry = CollectorRegistry()
    for module in (drivers.modbus.metrics, drivers.lpr.metrics):
        for value in vars(module).values():
            if isinstance(value, MetricWrapperBase):
                drivers_registry.register(value)
    engine.dispose()
    return known | _exposed(drivers_registry)


def _expressions(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("expr", "query", "definition") and isinstance(item, str):
                yield item
            else:
                yield from _expressions(item)
    elif isinstance(value, list):
        for item in value:
            yield from _expressions(item)


def _check(expressions: list[str], known: dict[str, set[str]]) -> set[str]:
    used = {name for expr in expressions for name in _NAME.findall(expr)}
    assert used, "no metric found"
    assert used - set(known) == set(), f"unknown metrics: {sorted(used - set(known))}"
    for expr in expressions:
        for name, selector in _SELECTOR.findall(expr):
            labels = set(_LABEL.findall(selector)) - {"instance", "job"}  # Prometheus adds these at scrape
            assert labels <= known[name], f"{name} has no label {sorted(labels - known[name])}: {expr}"
    return used


def test_every_alert_rule_uses_metrics_that_exist() -> None:
    rules = yaml.safe_load((CONFIG / "prometheus" / "parkgate-alerts.yml").read_text(encoding="utf-8"))
    alerts = {rule["alert"]: rule["expr"] for group in rules["groups"] for rule in group["rules"]}
    wanted = {"ParkGateDeviceOffline", "ParkGateOutboxBacklog", "ParkGateChainBreak", "ParkGateShiftNotReconciled"}
    assert wanted <= set(alerts)
    used = _check(list(alerts.values()), known_metrics())
    assert "parkgate_central_shifts_unreconciled_after_24h" in used


def test_every_dashboard_panel_uses_metrics_that_exist() -> None:
    dashboard = json.loads((CONFIG / "grafana" / "parkgate.json").read_text(encoding="utf-8"))
    expressions = list(_expressions(dashboard))
    used = _check(expressions, known_metrics())
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert all(p["targets"] for p in panels)
    for family in ("decisions", "device_health", "outbox_backlog", "ingest_records", "chain_breaks"):
        assert any(family in name for name in used), family


def test_the_check_fails_on_a_metric_that_does_not_exist() -> None:
    known = known_metrics()
    with pytest.raises(AssertionError, match="parkgate_edge_decisions_totl"):
        _check(["rate(parkgate_edge_decisions_totl[5m])"], known)
    with pytest.raises(AssertionError, match="status"):
        _check(['parkgate_edge_device_health{status="offline"}'], known)
