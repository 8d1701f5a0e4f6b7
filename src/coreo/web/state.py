"""What the app holds for the lifetime of a process, reached from requests via ``runtime()``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from starlette.requests import Request

from coreo.config import Settings
from coreo.db import Database
from coreo.eventlog.base import EventLog
from coreo.observability.metrics import HttpMetrics
from coreo.ratelimit import RateLimiter

if TYPE_CHECKING:
    from coreo.ingest.group_commit import GroupCommit

__all__ = ["Runtime", "runtime"]


@dataclass(slots=True)
class Runtime:
    settings: Settings
    database: Database
    rate_limiter: RateLimiter
    metrics: HttpMetrics
    owns_database: bool = True
    event_log: EventLog | None = None
    # Stores ingestion requests durably, concurrent ones in one transaction.
    ingest_writer: GroupCommit | None = None
    # Back-pressure: the pipeline's total lag, re-measured at most once a second.
    lag: int = 0
    lag_measured_at: float = float("-inf")
    # name -> check raising when the dependency is not ready; later capabilities add theirs.
    readiness_checks: dict[str, Callable[[], None]] = field(default_factory=dict)
    # name -> check whose failure degrades the service but does not make it unready.
    degradation_checks: dict[str, Callable[[], None]] = field(default_factory=dict)


def runtime(request: Request) -> Runtime:
    value = request.app.state.runtime
    if not isinstance(value, Runtime):
        raise TypeError("the app was not built by coreo.app.create_app")
    return value
