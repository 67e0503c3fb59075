"""Prometheus metrics for ``/metrics``.

Hot-path numbers (cache hits, query counts) are kept as plain counters by
their owners and read only when Prometheus scrapes, through a collector; the
request counter and latency histogram use the client library directly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from kubarr_app.cache import BoundedTTLCache
from kubarr_app.db import Database

log = logging.getLogger(__name__)


class StateCollector(Collector):
    """Reads caches, the query counter and the audit row count at scrape time."""

    def __init__(
        self,
        database: Database,
        caches: list[BoundedTTLCache[object, object]],
        audit_rows: Callable[[], int],
        sqlite_version: str | None,
        schema_revision: Callable[[], str | None],
    ) -> None:
        self.database = database
        self.caches = caches
        self.audit_rows = audit_rows
        self.sqlite_version = sqlite_version
        self.schema_revision = schema_revision

    def collect(self) -> Iterator[Metric]:
        queries = CounterMetricFamily(
            "kubarr_db_queries", "Statements sent to the database", labels=["kind"]
        )
        for kind, count in sorted(self.database.queries.counts.items()):
            queries.add_metric([kind], count)
        yield queries

        hits = CounterMetricFamily("kubarr_cache_hits", "Cache hits", labels=["cache"])
        misses = CounterMetricFamily(
            "kubarr_cache_misses", "Cache misses", labels=["cache"]
        )
        evictions = CounterMetricFamily(
            "kubarr_cache_evictions",
            "Entries removed, by reason",
            labels=["cache", "reason"],
        )
        entries = GaugeMetricFamily(
            "kubarr_cache_entries", "Entries held now", labels=["cache"]
        )
        capacity = GaugeMetricFamily(
            "kubarr_cache_max_entries", "Hard entry cap", labels=["cache"]
        )
        ratio = GaugeMetricFamily(
            "kubarr_cache_hit_ratio",
            "Hits divided by lookups since start",
            labels=["cache"],
        )
        for cache in self.caches:
            stats = cache.stats
            hits.add_metric([cache.name], stats.hits)
            misses.add_metric([cache.name], stats.misses)
            evictions.add_metric([cache.name, "expired"], stats.expired_evictions)
            evictions.add_metric([cache.name, "capacity"], stats.capacity_evictions)
            entries.add_metric([cache.name], len(cache))
            capacity.add_metric([cache.name], cache.max_entries)
            ratio.add_metric([cache.name], stats.hit_ratio)
        yield from (hits, misses, evictions, entries, capacity, ratio)

        try:
            rows = self.audit_rows()
        except Exception:  # a scrape must not fail because the database did
            log.warning("could not count audit rows for /metrics")
        else:
            audit = GaugeMetricFamily("kubarr_audit_log_rows", "Rows in audit_log")
            audit.add_metric([], rows)
            yield audit

        info = InfoMetricFamily("kubarr_database", "Database engine and versions")
        labels = {
            "engine": "sqlite" if self.database.is_sqlite else "postgresql",
            "sqlite_version": self.sqlite_version or "",
            "schema_revision": self.schema_revision() or "",
        }
        info.add_metric([], labels)
        yield info


class Metrics:
    """The registry of one app instance (tests build many apps in one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "kubarr_http_requests",
            "HTTP requests served",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "kubarr_http_request_duration_seconds",
            "Time to serve an HTTP request",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5),
        )

    def register_state(self, collector: StateCollector) -> None:
        self.registry.register(collector)
