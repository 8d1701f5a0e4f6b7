"""The FastAPI application factory."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI
from sqlalchemy import select

from coreo import __version__
from coreo.audit.api import router as audit_router
from coreo.auth.api import router as auth_router
from coreo.auth.dependencies import KeyCache
from coreo.auth.models import Workspace
from coreo.config import Settings, get_settings
from coreo.consent.api import router as consent_router
from coreo.db import Database, utcnow
from coreo.eventlog import build_event_log
from coreo.eventlog.base import EventLog
from coreo.eventlog.sql import SqlEventLog
from coreo.identity.api import router as identity_router
from coreo.ingest.api import OPENAPI_SCHEMAS as INGEST_SCHEMAS
from coreo.ingest.api import router as ingest_router
from coreo.ingest.dlq_api import router as dlq_router
from coreo.ingest.group_commit import GroupCommit
from coreo.ingest.imports.api import BackgroundImports
from coreo.ingest.imports.api import router as imports_router
from coreo.ingest.plans_api import router as plans_router
from coreo.observability.logs import configure_logging
from coreo.observability.metrics import HttpMetrics, retire_process
from coreo.privacy import retention
from coreo.privacy.api import router as privacy_router
from coreo.privacy.crypto import enable as enable_crypto
from coreo.profiles.api import router as profiles_router
from coreo.ratelimit import RateLimiter, build_rate_limiter
from coreo.runtime.pipeline import default_stages
from coreo.runtime.worker import Worker
from coreo.traits import jobs
from coreo.traits import service as traits_service
from coreo.traits.api import BackgroundBackfills
from coreo.traits.api import router as traits_router
from coreo.web.middleware import BodyLimitMiddleware, RequestContextMiddleware
from coreo.web.openapi import install_openapi
from coreo.web.ops import router as ops_router
from coreo.web.problems import install_problem_handlers
from coreo.web.state import Runtime

__all__ = ["create_app"]

_DESCRIPTION = """\
Coreo turns events from every touchpoint into unified customer profiles, and profiles into
explainable, consent-respecting actions.

Authenticate with an API key: `Authorization: Bearer coreo_sk_…`, or as the HTTP Basic user
name (how Segment SDKs send write keys). Every error is an RFC 9457 problem
(`application/problem+json`) with a stable `type` and a `request_id` to quote.
"""

_log = logging.getLogger("coreo.app")


def _resume_backfills(backfills: BackgroundBackfills, stop: threading.Event) -> None:
    """Run the back-fills stopped runners left, at start and then every heartbeat timeout
    (a runner that stops while this server runs is taken over too)."""
    while True:
        try:
            backfills.resume()
        except Exception:  # the server still serves; `coreo traits backfill` runs them too
            _log.warning("could not resume unfinished back-fills", exc_info=True)
        if stop.wait(jobs.TIMEOUT.total_seconds()):
            return


def _trait_refresh_timer(database: Database, minutes: float, stop: threading.Event) -> None:
    """Refresh the stored computed-trait values that expired (rolling windows, recency:
    they change with the calendar, without new events) every ``minutes``."""
    wait = min(minutes * 60, 60.0)  # the first pass soon after start: restarts delay none
    while not stop.wait(wait):
        wait = minutes * 60
        try:
            refreshed = traits_service.refresh_due(database, stop=stop)
        except Exception:  # the server still serves; `coreo traits refresh` does it too
            _log.warning("the computed-trait refresh failed", exc_info=True)
        else:
            _log.info("computed traits refreshed", extra={"profiles": refreshed})


def _retention_timer(
    database: Database, settings: Settings, log: EventLog, stop: threading.Event
) -> None:
    """Run the retention purge of every workspace every ``retention_interval_hours`` (the
    first run one interval after start). Two servers doing it at once purge the same
    rows: the second finds nothing left."""
    while not stop.wait(settings.retention_interval_hours * 3600):
        try:
            with database.transaction(write=False) as session:
                workspaces = list(session.scalars(select(Workspace.id)))
            for workspace_id in workspaces:
                report = retention.run(
                    database,
                    workspace_id,
                    settings,
                    actor="system:retention",
                    log=log,
                    trim_shared_log=False,
                )
                _log.info("retention purge done", extra={"purged": report.purged})
            if not isinstance(log, SqlEventLog):  # shared by all workspaces: trimmed once
                cutoff = utcnow() - timedelta(days=settings.retention_log_days)
                _log.info("event log trimmed", extra={"records": log.trim(cutoff)})
        except Exception:  # the server still serves; `coreo retention run` does it too
            _log.warning("the retention purge failed", exc_info=True)


def create_app(
    settings: Settings | None = None,
    *,
    database: Database | None = None,
    rate_limiter: RateLimiter | None = None,
) -> FastAPI:
    """Build the API. With no arguments everything comes from ``get_settings()``.

    Used by ``coreo serve`` (also as a factory in worker processes) and by the tests, which
    pass their own database.
    """
    settings = settings or get_settings()
    configure_logging(level=settings.log_level, fmt=settings.log_format.value)
    owns_database = database is None
    if database is None:
        database = Database.from_settings(settings)  # with the settings' keys
    else:
        enable_crypto(database, settings)  # a database given: this app's settings name the key
    rate_limiter = rate_limiter or build_rate_limiter(settings)
    state = Runtime(
        settings=settings,
        database=database,
        rate_limiter=rate_limiter,
        metrics=HttpMetrics(),
        owns_database=owns_database,
    )
    state.degradation_checks["rate_limit_store"] = rate_limiter.ping
    event_log = build_event_log(settings, database)
    state.event_log = event_log
    arrivals = threading.Event()  # set by ingestion, awaited by this process's worker
    state.ingest_writer = writer = GroupCommit(
        database,
        event_log,
        on_group=state.metrics.commit_groups.observe,
        on_commit=arrivals.set,
    )
    state.readiness_checks["event_log"] = event_log.ping
    imports = BackgroundImports(database, event_log, settings)
    backfills = BackgroundBackfills(database)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        thread: threading.Thread | None = None
        if settings.worker_enabled:
            worker = Worker(
                database,
                event_log,
                default_stages(settings),
                batch_size=settings.worker_batch_size,
                metrics=state.metrics.pipeline,
                lease_ttl=settings.worker_lease_seconds,
                lease_renew_interval=settings.worker_lease_seconds / 5,
                arrivals=arrivals,
                linger=settings.worker_linger_ms / 1000,
            )
            thread = threading.Thread(
                target=worker.run, args=(stop,), name="coreo-worker", daemon=True
            )
            thread.start()
        resumer = threading.Thread(
            target=_resume_backfills, args=(backfills, stop), name="coreo-resume", daemon=True
        )
        resumer.start()
        timers: list[threading.Thread] = []  # periodic jobs, each off when its interval is 0
        if settings.traits_refresh_minutes > 0:
            timers.append(
                threading.Thread(
                    target=_trait_refresh_timer,
                    args=(database, settings.traits_refresh_minutes, stop),
                    name="coreo-trait-refresh",
                    daemon=True,
                )
            )
        if settings.retention_interval_hours > 0:
            timers.append(
                threading.Thread(
                    target=_retention_timer,
                    args=(database, settings, event_log, stop),
                    name="coreo-retention",
                    daemon=True,
                )
            )
        for timer in timers:
            timer.start()
        yield
        writer.close()  # what single calls submitted is committed first
        imports.close()  # running imports stop after their current chunk, resumable
        stop.set()  # the worker finishes its current batch (graceful drain), then exits
        if thread is not None:
            thread.join(timeout=30)
        resumer.join(timeout=5)
        for timer in timers:
            timer.join(timeout=5)
        event_log.close()
        rate_limiter.close()
        retire_process()
        if state.owns_database:
            database.dispose()

    app = FastAPI(
        title="Coreo",
        version=__version__,
        description=_DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.runtime = state
    app.state.key_cache = KeyCache(settings.auth_cache_seconds)
    app.state.imports = imports
    app.state.backfills = backfills
    install_problem_handlers(app)
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        path_limits={"/v1/imports": settings.import_max_upload_bytes},
    )
    app.add_middleware(RequestContextMiddleware, metrics=state.metrics)
    app.include_router(ingest_router)  # first: the busiest routes are matched first
    app.include_router(ops_router)
    app.include_router(auth_router)
    app.include_router(audit_router)
    app.include_router(dlq_router)
    app.include_router(plans_router)
    app.include_router(imports_router)
    app.include_router(profiles_router)
    app.include_router(identity_router)
    app.include_router(traits_router)
    app.include_router(consent_router)
    app.include_router(privacy_router)
    install_openapi(app, INGEST_SCHEMAS)
    return app
