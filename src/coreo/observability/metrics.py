"""Prometheus metrics of the HTTP layer; one registry per app, multi-process aware."""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

__all__ = ["CONTENT_TYPE_LATEST", "HttpMetrics", "PipelineMetrics", "retire_process"]

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def retire_process() -> None:
    """Take a stopping server process's live gauges (open dead letters) out of the merged
    /metrics of the others; no-op in a single-process server."""
    directory = multiprocess_dir()
    if directory is not None:
        mark_process_dead(os.getpid(), directory)  # type: ignore[no-untyped-call]


class HttpMetrics:
    """Request counts and latencies by method, route template and status."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        if multiprocess_dir() is None:
            ProcessCollector(registry=self.registry)
        self.requests = Counter(
            "coreo_http_requests",
            "HTTP requests served, by method, route template and status code.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "coreo_http_request_duration_seconds",
            "Time from request start to the end of the response, by method and route template.",
            ["method", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "coreo_rate_limited_requests",
            "Requests refused with 429 because the API key's token bucket was empty.",
            registry=self.registry,
        )
        self.rate_limit_store_errors = Counter(
            "coreo_rate_limit_store_errors",
            "Rate-limit checks that failed open because the store was unreachable.",
            registry=self.registry,
        )

        self.ingested = Counter(
            "coreo_ingest_events",
            "Events received by the ingestion API, by outcome (accepted, duplicate, rejected).",
            ["outcome"],
            registry=self.registry,
        )
        self.commit_groups = Histogram(
            "coreo_ingest_commit_group_requests",
            "Ingestion requests stored by one transaction (group commit).",
            buckets=(1, 2, 4, 8, 16, 32, 64),
            registry=self.registry,
        )
        self.pipeline = PipelineMetrics(self.registry)

    def observe(self, *, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def render(self) -> bytes:
        """The exposition text; merged across processes when running with several workers."""
        directory = multiprocess_dir()
        if directory is None:
            return generate_latest(self.registry)
        merged = CollectorRegistry()
        MultiProcessCollector(merged, path=directory)  # type: ignore[no-untyped-call]
        return generate_latest(merged)


class PipelineMetrics:
    """The worker pipeline: events per stage, stage latency, consumer lag, dead letters."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.events = Counter(
            "coreo_stage_events",
            "Events through a pipeline stage, by stage and outcome (ok, dead_letter).",
            ["stage", "outcome"],
            registry=registry,
        )
        self.latency = Histogram(
            "coreo_stage_batch_duration_seconds",
            "Time a stage needs for one batch, by stage.",
            ["stage"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.lag = Gauge(
            "coreo_consumer_lag",
            "Events in a partition of the log that the pipeline has not processed yet.",
            ["partition"],
            # Partitions move between server processes (leases): the newest measurement of
            # any process is the partition's lag; a maximum would keep a stale backlog of a
            # process that gave the partition up for ever.
            multiprocess_mode="mostrecent",
            registry=registry,
        )
        self.dead_letters_open = Gauge(
            "coreo_dead_letters_open",
            "Dead letters awaiting replay or purge, by workspace id and stage.",
            ["workspace", "stage"],
            # Every worker counts the same table: show the newest count of a live process.
            multiprocess_mode="livemostrecent",
            registry=registry,
        )
        self._dead_letter_labels: set[tuple[str, str]] = set()
        self.end_to_end = Histogram(
            "coreo_event_processing_delay_seconds",
            "From acceptance by the API (receivedAt) to the end of processing.",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
            registry=registry,
        )

    def set_open_dead_letters(self, counts: dict[tuple[str, str], int]) -> None:
        """Publish open dead letters per (workspace id, stage); vanished ones drop to 0."""
        for labels in self._dead_letter_labels - counts.keys():
            self.dead_letters_open.labels(*labels).set(0)
        for labels, count in counts.items():
            self.dead_letters_open.labels(*labels).set(count)
        self._dead_letter_labels |= counts.keys()
