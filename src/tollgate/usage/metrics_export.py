"""The node side of the metrics: the writer child's multiprocess files plus the node's own gauges.

Everything is read at scrape time: nothing here runs per request. Served on the management port
(`/metrics`) and, for a gateway-only node, on the port env TOLLGATE_METRICS_PORT names.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, generate_latest, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from tollgate.gateway.app import GatewayState
    from tollgate.node import Node

log = logging.getLogger(__name__)

#: A gateway-only node (no management port) serves /metrics on this port when it is set.
METRICS_PORT_ENV = "TOLLGATE_METRICS_PORT"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: `off` leaves out the traffic metrics the writer child computes (the node's own gauges stay).
METRICS_ENV = "TOLLGATE_METRICS"


def traffic_metrics_enabled() -> bool:
    """Whether the writer child computes the traffic metrics (env TOLLGATE_METRICS, default on)."""
    return (os.environ.get(METRICS_ENV) or "on").strip().lower() != "off"


def make_metrics_dir() -> str:
    """A fresh directory for one node's writer child to keep its metric files in (removed at shutdown)."""
    return tempfile.mkdtemp(prefix="tollgate-metrics-")


def remove_metrics_dir(path: str | None) -> None:
    if path:
        shutil.rmtree(path, ignore_errors=True)


class NodeCollector(Collector):
    """Gauges and counters the node itself knows: in flight, streams, connections, upstream errors,
    snapshot revision and age, store freshness, readiness, usage records."""

    def __init__(self, node: Node) -> None:
        self._node = node

    def collect(self) -> Iterator[Metric]:
        node = self._node
        state, recorder = node.state, node.recorder
        if state is not None:
            yield from _gateway_metrics(node, state)
        if recorder is not None:
            stats = recorder.stats()
            yield GaugeMetricFamily(
                "tollgate_usage_records_queued", "Usage records waiting to be written.", value=stats.queued
            )
            for name, value, doc in (
                ("written", stats.written, "Usage records stored."),
                ("dropped", stats.dropped, "Usage records dropped because the queue was full."),
                ("lost", stats.lost, "Usage records the writer gave up on."),
            ):
                yield CounterMetricFamily(f"tollgate_usage_records_{name}", doc, value=value)


def _gateway_metrics(node: Node, state: GatewayState) -> Iterator[Metric]:
    yield GaugeMetricFamily(
        "tollgate_requests_in_flight", "Requests being answered now, streams included.", value=state.inflight
    )
    yield GaugeMetricFamily("tollgate_streams_in_flight", "Streams being relayed now.", value=state.streams)
    slots = state.connections
    if slots is not None:
        yield GaugeMetricFamily("tollgate_connections_open", "Open client connections on the data port.", slots.open)
        yield CounterMetricFamily(
            "tollgate_connections_refused", "Connections refused at the connection cap (503).", value=slots.refused
        )
    errors = CounterMetricFamily(
        "tollgate_upstream_errors",
        "Upstream failures by provider and kind (timeout, unreachable, protocol, error), "
        "failed attempts before a failover included.",
        labels=["provider", "kind"],
    )
    for (provider, kind), count in sorted(state.upstream_errors.counts.items()):
        errors.add_metric([provider, kind], count)
    yield errors
    yield GaugeMetricFamily(
        "tollgate_snapshot_revision", "Store revision of the routing snapshot in use.", value=node.applied_revision
    )
    if node.snapshot_applied_at:
        yield GaugeMetricFamily(
            "tollgate_snapshot_age_seconds",
            "Seconds since the routing snapshot in use was compiled and swapped in.",
            value=time.time() - node.snapshot_applied_at,
        )
    readiness = state.readiness
    store_age = readiness.store_age()
    if store_age is not None:
        yield GaugeMetricFamily(
            "tollgate_store_last_ok_age_seconds",
            "Seconds since the store last answered this node's revision poll (readiness wants at most 5).",
            value=store_age,
        )
    yield GaugeMetricFamily(
        "tollgate_ready", "1 when the data port's readiness probe answers 200.", value=1 if readiness.check()[0] else 0
    )
    counters = state.policy_services.counters
    if counters.failures:
        family = CounterMetricFamily(
            "tollgate_limit_counter_failures",
            "Calls to the limit counters that failed (backend down or slower than its timeout), by "
            "operation (acquire: the request went through uncounted or was refused, per the fail switch; "
            "adjust: a settle was lost).",
            labels=["backend", "operation", "fail"],
        )
        for operation, count in counters.failures.items():
            family.add_metric([counters.backend, operation, counters.fail_mode], count)
        yield family


def node_registry(node: Node | None, metrics_dir: str | None) -> CollectorRegistry:
    """A registry over the writer child's files (if any) and the node's own values (if a node)."""
    registry = CollectorRegistry(auto_describe=False)
    if metrics_dir and os.path.isdir(metrics_dir):
        MultiProcessCollector(registry, path=metrics_dir)  # type: ignore[no-untyped-call]
    if node is not None:
        registry.register(NodeCollector(node))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    """The Prometheus text exposition of `registry`."""
    return generate_latest(registry)


def serve_metrics_port(node: Node, metrics_dir: str | None, host: str) -> None:
    """For a gateway-only node: start /metrics on TOLLGATE_METRICS_PORT (a thread), when it is set."""
    port = os.environ.get(METRICS_PORT_ENV)
    if not port:
        return
    start_http_server(int(port), addr=host, registry=node_registry(node, metrics_dir))
    log.info("metrics on http://%s:%s/metrics", host, port)
