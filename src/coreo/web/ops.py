"""Operational endpoints: liveness, readiness and Prometheus metrics (no authentication)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from coreo import __version__
from coreo.errors import CoreoError
from coreo.observability.metrics import CONTENT_TYPE_LATEST
from coreo.web.problems import PROBLEM_MEDIA_TYPE, Problem, ProblemError
from coreo.web.state import runtime

__all__ = ["router"]

router = APIRouter(tags=["operations"])


class Health(BaseModel):
    status: Literal["ok"]
    version: str


class Readiness(BaseModel):
    status: Literal["ok", "degraded"]
    checks: dict[str, str]


@router.get("/healthz", response_model=Health, summary="Liveness: the process answers")
async def healthz() -> Health:
    return Health(status="ok", version=__version__)


@router.get(
    "/readyz",
    response_model=Readiness,
    summary="Readiness: the database (and later the event log) is reachable",
    responses={503: {"model": Problem, "content": {PROBLEM_MEDIA_TYPE: {}}}},
)
async def readyz(request: Request) -> Readiness:
    state = runtime(request)
    checks: dict[str, str] = {}
    failed: list[str] = []
    degraded = False
    required = {"database": state.database.ping, **state.readiness_checks}
    for name, check in {**required, **state.degradation_checks}.items():
        try:
            await run_in_threadpool(check)
            checks[name] = "ok"
        except CoreoError as error:
            checks[name] = f"failed: {error.message}"
            if name in required:
                failed.append(name)
            else:
                degraded = True
    if failed:
        raise ProblemError(
            "service-unavailable",
            "not ready: " + "; ".join(f"{n} {checks[n]}" for n in failed),
            headers={"Retry-After": "5"},
        )
    return Readiness(status="degraded" if degraded else "ok", checks=checks)


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def metrics(request: Request) -> Response:
    body = await run_in_threadpool(runtime(request).metrics.render)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
