"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from coreo import __version__
from coreo.audit.api import router as audit_router
from coreo.auth.api import router as auth_router
from coreo.auth.dependencies import KeyCache
from coreo.config import Settings, get_settings
from coreo.db import Database
from coreo.observability.logs import configure_logging
from coreo.observability.metrics import HttpMetrics
from coreo.ratelimit import RateLimiter, build_rate_limiter
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
    database = database or Database.from_settings(settings)
    rate_limiter = rate_limiter or build_rate_limiter(settings)
    state = Runtime(
        settings=settings,
        database=database,
        rate_limiter=rate_limiter,
        metrics=HttpMetrics(),
        owns_database=owns_database,
    )
    state.degradation_checks["rate_limit_store"] = rate_limiter.ping

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        rate_limiter.close()
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
    install_problem_handlers(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestContextMiddleware, metrics=state.metrics)
    app.include_router(ops_router)
    app.include_router(auth_router)
    app.include_router(audit_router)
    install_openapi(app)
    return app
