"""The OpenAPI 3.1 document, with every problem response an operation can give documented."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from coreo.web.problems import PROBLEM_MEDIA_TYPE, PROBLEM_TYPES, Problem

__all__ = ["install_openapi"]

_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def _problem_statuses(path: str, operation: dict[str, Any]) -> set[int]:
    statuses = {500}
    if operation.get("security"):
        statuses |= {401, 403, 429, 503}
    if "requestBody" in operation:
        statuses |= {400, 413, 415, 422}
    if operation.get("parameters"):
        statuses.add(422)
    if "{" in path:
        statuses.add(404)
    if operation.get("operationId", "").startswith(("create_", "update_", "revoke_", "replay_")):
        statuses |= {404, 409, 422}
    return statuses


def install_openapi(app: FastAPI, extra_schemas: dict[str, Any] | None = None) -> None:
    """Replace FastAPI's generated 422 shapes with problem+json and add the other problems.

    ``extra_schemas`` are component schemas that routes reference by hand (request bodies
    parsed by the route itself, such as the Segment messages).
    """

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        problem_schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(problem_schema.pop("$defs", {}))
        schemas["Problem"] = problem_schema
        schemas.update(extra_schemas or {})
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
        for path, item in schema.get("paths", {}).items():
            for method, operation in item.items():
                if method not in _METHODS:
                    continue
                responses = operation.setdefault("responses", {})
                for status in sorted(_problem_statuses(path, operation)):
                    responses[str(status)] = {
                        "description": PROBLEM_TYPES_BY_STATUS[status],
                        "content": {
                            PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}
                        },
                    }
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override hook


PROBLEM_TYPES_BY_STATUS = dict(PROBLEM_TYPES.values())
