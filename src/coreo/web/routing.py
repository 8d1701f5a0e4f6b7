"""Route lookups shared by the metrics middleware and the 405 handler."""

from __future__ import annotations

from typing import Any

from starlette.routing import BaseRoute, Match
from starlette.types import Scope

__all__ = ["allowed_methods", "route_template"]

_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _routes(scope: Scope) -> list[BaseRoute]:
    app: Any = scope.get("app")
    router = getattr(app, "router", None)
    return list(getattr(router, "routes", ()))


def route_template(scope: Scope) -> str:
    """The path template that served the request (``/v1/keys/{key_id}``), else "unmatched".

    FastAPI records its own routes in ``scope["route"]``; plain Starlette routes such as
    ``/docs`` and ``/openapi.json`` are found by matching the path again.
    """
    path = getattr(scope.get("route"), "path", None)
    if isinstance(path, str):
        return path
    if scope.get("type") != "http":
        return "unmatched"
    for route in _routes(scope):
        match, _ = route.matches(scope)
        if match is Match.FULL and isinstance(getattr(route, "path", None), str):
            return str(getattr(route, "path"))  # noqa: B009 - checked just above
    return "unmatched"


def allowed_methods(scope: Scope) -> list[str]:
    """Every method some route accepts at the request's path (for the 405 ``Allow`` header).

    Each route is asked whether it would fully match the path with each standard method, so
    routes nested in included routers count too.
    """
    routes = _routes(scope)
    return [
        method
        for method in _METHODS
        if any(route.matches({**scope, "method": method})[0] is Match.FULL for route in routes)
    ]
