"""RFC 9457 problem details for every error the API returns.

Each problem has a stable ``type`` (``urn:coreo:problem:<slug>``), a ``title`` fixed per type,
a human ``detail``, the ``instance`` path, the ``request_id`` to quote, and for validation
problems the failing ``errors``. The catalogue is documented in docs/api.md.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import Scope

from coreo.errors import (
    ConfigurationError,
    ConflictError,
    CoreoError,
    InvalidInputError,
    NotFoundError,
    ServiceUnavailableError,
)
from coreo.observability.logs import request_id_var
from coreo.web.routing import allowed_methods

__all__ = [
    "PROBLEM_MEDIA_TYPE",
    "PROBLEM_TYPES",
    "FieldError",
    "Problem",
    "ProblemError",
    "install_problem_handlers",
    "problem_response",
]

_log = logging.getLogger("coreo.api")

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPES: dict[str, tuple[int, str]] = {
    "malformed-request": (400, "Malformed request"),
    "unauthenticated": (401, "Authentication required"),
    "forbidden": (403, "Not allowed"),
    "not-found": (404, "Not found"),
    "method-not-allowed": (405, "Method not allowed"),
    "conflict": (409, "Conflict"),
    "payload-too-large": (413, "Request body too large"),
    "unsupported-media-type": (415, "Unsupported media type"),
    "validation-failed": (422, "Validation failed"),
    "rate-limited": (429, "Too many requests"),
    "internal-error": (500, "Internal server error"),
    "service-unavailable": (503, "Service unavailable"),
}
_SLUG_BY_STATUS = {status: slug for slug, (status, _) in PROBLEM_TYPES.items()}


class FieldError(BaseModel):
    """One failing input field."""

    field: str = Field(description="Dotted path of the field, e.g. 'body.scopes.0'.")
    message: str
    type: str = Field(description="Machine-readable error code, e.g. 'missing'.")


class Problem(BaseModel):
    """An RFC 9457 problem details object."""

    type: str = Field(description="Stable URI of the problem type: urn:coreo:problem:<slug>.")
    title: str
    status: int
    detail: str
    instance: str | None = None
    request_id: str | None = Field(default=None, description="Quote this when reporting.")
    errors: list[FieldError] | None = None


class ProblemError(Exception):
    """Raise from API code to answer with a problem; ``slug`` names an entry of PROBLEM_TYPES."""

    def __init__(
        self,
        slug: str,
        detail: str,
        *,
        headers: Mapping[str, str] | None = None,
        errors: Sequence[FieldError] | None = None,
    ) -> None:
        super().__init__(detail)
        self.slug = slug
        self.detail = detail
        self.headers = dict(headers or {})
        self.errors = list(errors) if errors is not None else None


def problem_response(
    scope: Scope,
    slug: str,
    detail: str,
    *,
    headers: Mapping[str, str] | None = None,
    errors: Sequence[FieldError] | None = None,
) -> Response:
    status, title = PROBLEM_TYPES[slug]
    body: dict[str, Any] = {
        "type": f"urn:coreo:problem:{slug}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": scope.get("path"),
        "request_id": request_id_var.get(),
    }
    if errors is not None:
        body["errors"] = [e.model_dump() for e in errors]
    return Response(
        orjson.dumps(body), status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE
    )


def _field_errors(error: RequestValidationError) -> list[FieldError]:
    return [
        FieldError(
            field=".".join(str(part) for part in item.get("loc", ())),
            message=str(item.get("msg", "invalid")),
            type=str(item.get("type", "invalid")),
        )
        for item in error.errors()
    ]


_DOMAIN_ERRORS: tuple[tuple[type[CoreoError], str], ...] = (
    (NotFoundError, "not-found"),
    (ConflictError, "conflict"),
    (InvalidInputError, "validation-failed"),
    (ServiceUnavailableError, "service-unavailable"),
    (ConfigurationError, "internal-error"),
)


def install_problem_handlers(app: FastAPI) -> None:
    """Turn every handled exception into a problem response."""

    async def on_problem(request: Request, exc: Exception) -> Response:
        if not isinstance(exc, ProblemError):
            raise exc
        return problem_response(
            request.scope, exc.slug, exc.detail, headers=exc.headers, errors=exc.errors
        )

    async def on_http_exception(request: Request, exc: Exception) -> Response:
        if not isinstance(exc, StarletteHTTPException):
            raise exc
        slug = _SLUG_BY_STATUS.get(exc.status_code, "malformed-request")
        detail = str(exc.detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no resource at {request.url.path}"
        elif exc.status_code == 405:
            allowed = allowed_methods(request.scope)
            detail = f"{request.method} is not allowed on {request.url.path}"
            if allowed:
                detail += f"; allowed: {', '.join(allowed)}"
                headers = {**(exc.headers or {}), "Allow": ", ".join(allowed)}
                return problem_response(request.scope, slug, detail, headers=headers)
        elif exc.status_code == 401 and detail == "Not authenticated":
            detail = "send an API key as 'Authorization: Bearer <key>' or as the Basic user name"
        return problem_response(request.scope, slug, detail, headers=exc.headers)

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        if not isinstance(exc, RequestValidationError):
            raise exc
        errors = _field_errors(exc)
        if any(e.type == "json_invalid" for e in errors):
            reason = next(
                (str(i.get("ctx", {}).get("error", "")) for i in exc.errors() if i.get("ctx")), ""
            )
            detail = "the request body is not valid JSON" + (f": {reason}" if reason else "")
            return problem_response(request.scope, "malformed-request", detail)
        fields = ", ".join(e.field for e in errors)
        return problem_response(
            request.scope,
            "validation-failed",
            f"{len(errors)} field(s) failed validation: {fields}",
            errors=errors,
        )

    async def on_domain_error(request: Request, exc: Exception) -> Response:
        if not isinstance(exc, CoreoError):
            raise exc
        slug = next((s for cls, s in _DOMAIN_ERRORS if isinstance(exc, cls)), "internal-error")
        headers = {"Retry-After": "5"} if slug == "service-unavailable" else None
        detail = exc.message
        if slug == "internal-error":
            _log.error("server misconfigured: %s", exc.message)
            detail = "the server is misconfigured; quote the request id to its operator"
        errors = None
        if isinstance(exc, InvalidInputError) and exc.field is not None:
            errors = [FieldError(field=exc.field, message=exc.message, type="invalid")]
        return problem_response(request.scope, slug, detail, headers=headers, errors=errors)

    async def on_database_unavailable(request: Request, exc: Exception) -> Response:
        _log.warning("database unavailable", extra={"error_type": type(exc).__qualname__})
        return problem_response(
            request.scope,
            "service-unavailable",
            "the database is unavailable or busy; retry shortly",
            headers={"Retry-After": "2"},
        )

    app.add_exception_handler(ProblemError, on_problem)
    app.add_exception_handler(OperationalError, on_database_unavailable)
    app.add_exception_handler(StarletteHTTPException, on_http_exception)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(CoreoError, on_domain_error)
