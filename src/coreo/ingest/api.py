"""The Segment-compatible HTTP Tracking API: /v1/identify … /v1/batch and /v1/import.

Existing Segment SDKs work unchanged: the write key is the Basic-auth user name (or
``writeKey`` in the body), bodies may be gzip-compressed, single calls may be 32 KB and
batches 500 KB (both configurable), and success is ``200 {"success": true}``.
"""

from __future__ import annotations

import base64
import binascii
import time
import zlib
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from functools import partial
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.security.utils import get_authorization_scheme_param
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from coreo.auth.dependencies import authenticate_token
from coreo.auth.service import Principal
from coreo.db import utcnow
from coreo.ingest import service as ingest_service
from coreo.ingest.group_commit import GroupCommit
from coreo.ingest.normalize import NormaliseOptions
from coreo.ingest.service import IngestResult
from coreo.ingest.spec import (
    MESSAGE_TYPES,
    AliasMessage,
    GroupMessage,
    IdentifyMessage,
    PageMessage,
    ScreenMessage,
    TrackMessage,
)
from coreo.runtime.worker import DEFAULT_GROUP
from coreo.web.problems import FieldError, ProblemError
from coreo.web.state import Runtime, runtime

__all__ = ["OPENAPI_SCHEMAS", "router"]

router = APIRouter(tags=["ingestion"])

_BASIC_OR_BODY = (
    "Authenticate with a write key as the HTTP Basic user name (empty password), as Segment "
    "SDKs do, or as `writeKey` in the body."
)


def _json(content: dict[str, Any]) -> Response:
    return Response(orjson.dumps(content), media_type="application/json")


_ID = {
    "anyOf": [
        {"type": "string", "pattern": r"[^\s\u0085]"},
        {"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1},
    ]
}
_MODELS: dict[str, type[BaseModel]] = {
    "identify": IdentifyMessage,
    "track": TrackMessage,
    "page": PageMessage,
    "screen": ScreenMessage,
    "group": GroupMessage,
    "alias": AliasMessage,
}


def _component_schemas() -> dict[str, Any]:
    """OpenAPI schemas of the messages, generated from the models in ``coreo.ingest.spec``
    (the call type is implied by the endpoint; the identity rule becomes ``anyOf``)."""
    schemas: dict[str, Any] = {}
    for call, model in _MODELS.items():
        schema = model.model_json_schema(by_alias=True, ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        properties = schema["properties"]
        properties.pop("type", None)
        properties["writeKey"] = {"type": "string"}
        for name in ("userId", "anonymousId", "groupId", "previousId"):
            if name in properties:
                properties[name] = _ID
        schema["required"] = [r for r in schema.get("required", []) if r != "type"]
        if call != "alias":
            schema["anyOf"] = [{"required": ["userId"]}, {"required": ["anonymousId"]}]
        schemas[model.__name__] = schema
    return schemas


OPENAPI_SCHEMAS = _component_schemas()
_SECURITY: list[dict[str, list[str]]] = [{"HTTPBearer": []}, {"HTTPBasic": []}]


def _message_schema(call: str) -> dict[str, Any]:
    reference = {"$ref": f"#/components/schemas/{_MODELS[call].__name__}"}
    return {
        "requestBody": {"required": True, "content": {"application/json": {"schema": reference}}},
        "security": _SECURITY,
    }


async def _read_body(request: Request, limit: int) -> bytes:
    raw = await request.body()
    encoding = request.headers.get("content-encoding", "").strip().lower()
    if encoding in ("", "identity"):
        body = raw
    elif encoding == "gzip":
        decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            body = decoder.decompress(raw, limit + 1)
        except zlib.error:
            raise ProblemError("malformed-request", "the body is not valid gzip") from None
        if not decoder.eof and len(body) <= limit:
            raise ProblemError("malformed-request", "the gzip body is truncated")
    else:
        raise ProblemError(
            "unsupported-media-type", f"Content-Encoding {encoding!r} is not supported; use gzip"
        )
    if len(body) > limit:
        raise ProblemError(
            "payload-too-large", f"the request body exceeds the limit of {limit} bytes"
        )
    return body


def _parse_json(body: bytes) -> dict[str, Any]:
    if not body.strip():
        raise ProblemError("malformed-request", "the request body is empty; send a JSON object")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise ProblemError(
            "malformed-request", f"the request body is not valid JSON: {error}"
        ) from None
    if not isinstance(data, dict):
        raise ProblemError("malformed-request", "the request body must be a JSON object")
    return data


async def _principal(request: Request, data: dict[str, Any]) -> Principal:
    token: str | None = None
    header = request.headers.get("authorization", "")
    if header:
        scheme, credentials = get_authorization_scheme_param(header)
        if scheme.lower() == "bearer":
            token = credentials
        elif scheme.lower() == "basic":
            try:
                token = base64.b64decode(credentials).decode().split(":", 1)[0]
            except (binascii.Error, UnicodeDecodeError):
                raise ProblemError(
                    "unauthenticated", "the Basic credentials are malformed"
                ) from None
    if not token:
        write_key = data.pop("writeKey", None)
        token = write_key if isinstance(write_key, str) else None
    else:
        data.pop("writeKey", None)
    principal = await authenticate_token(request, token)
    if not principal.has_scope("ingest"):
        raise ProblemError("forbidden", "this API key lacks the 'ingest' scope")
    return principal


def _gpc(request: Request) -> bool:
    """Whether the request carries the Global Privacy Control signal (``Sec-GPC: 1``)."""
    return request.headers.get("sec-gpc", "").strip() == "1"


def _refuse_when_behind(state: Runtime) -> None:
    """Back-pressure: answer 503 rather than accept events the pipeline cannot keep up with."""
    limit = state.settings.ingest_max_lag
    log = state.event_log
    if limit <= 0 or log is None:
        return
    if _lag_due(state):
        state.lag = sum(log.lag(DEFAULT_GROUP, p) for p in range(log.partitions))
        state.lag_measured_at = time.monotonic()
    if state.lag > limit:
        raise ProblemError(
            "service-unavailable",
            f"processing is {state.lag} events behind (limit {limit}); retry shortly",
            headers={"Retry-After": "5"},
        )


def _lag_due(state: Runtime) -> bool:
    """Whether back-pressure is on and its lag reading is more than a second old."""
    return state.settings.ingest_max_lag > 0 and time.monotonic() - state.lag_measured_at >= 1.0


def _prepare(
    state: Runtime,
    principal: Principal,
    messages: list[Any],
    forced_type: str | None,
    defaults: dict[str, Any],
    gpc: bool = False,
) -> ingest_service.PreparedMessages:
    settings = state.settings
    _writer(state)  # refused before any work when the server cannot keep it
    _refuse_when_behind(state)
    received_at = utcnow()
    workspace_id = principal.workspace_id
    plan = ingest_service.PLAN_CACHE.get(state.database, workspace_id, principal.key_id)
    # Checking and serialising need no database: done before the write transaction opens,
    # so that (on SQLite, one writer at a time) the write lock is held for writes only.
    return ingest_service.prepare_messages(
        workspace_id=workspace_id,
        messages=messages,
        received_at=received_at,
        options=replace(NormaliseOptions.from_settings(settings), gpc=gpc),
        dedupe_window=timedelta(hours=settings.ingest_dedupe_hours),
        forced_type=forced_type,
        batch_defaults=defaults,
        max_message_bytes=settings.ingest_max_message_bytes,
        key_id=principal.key_id,
        plan=plan,
    )


def _count(state: Runtime, result: IngestResult) -> IngestResult:
    counter = state.metrics.ingested
    counter.labels("accepted").inc(len(result.accepted))
    counter.labels("duplicate").inc(len(result.duplicates))
    counter.labels("rejected").inc(len(result.rejected))
    return result


def _answers_from_memory(state: Runtime, principal: Principal) -> bool:
    """Whether ``_prepare`` needs no query now (its plan and lag reading are fresh)."""
    if _lag_due(state):
        return False
    plans = ingest_service.PLAN_CACHE
    return plans.fresh(principal.workspace_id, principal.key_id)


def _writer(state: Runtime) -> GroupCommit:
    if state.ingest_writer is None:
        raise ProblemError("service-unavailable", "ingestion is not configured on this server")
    return state.ingest_writer


def _ingest(state: Runtime, prepare: Callable[[], ingest_service.PreparedMessages]) -> IngestResult:
    """Check (``prepare``, a bound ``_prepare``) and store, in a pool thread."""
    return _count(state, _writer(state).store(prepare()))


async def _single(request: Request, call: str) -> Response:
    state = runtime(request)
    limit = state.settings.ingest_max_message_bytes + 1024  # room for the writeKey envelope
    data = _parse_json(await _read_body(request, limit))
    principal = await _principal(request, data)
    # On SQLite one message is checked on the loop (a few dozen µs) unless that needs a
    # query (a plan or the lag to read again: never on the loop), then committed by the
    # writer's own thread together with whatever else arrived meanwhile; no pool thread
    # waits for it.
    # On PostgreSQL, which takes concurrent writers, each request writes on its own from a
    # pool thread (a single committing thread measured slower there: 280 against 450/s).
    prepare = partial(_prepare, state, principal, [data], call, {}, _gpc(request))
    if not state.database.is_sqlite:
        result = await run_in_threadpool(_ingest, state, prepare)
    else:
        fresh = _answers_from_memory(state, principal)
        prepared = prepare() if fresh else await run_in_threadpool(prepare)
        result = _count(state, await _writer(state).commit(prepared))
    if result.rejected:
        rejection = result.rejected[0]
        raise ProblemError(
            "validation-failed",
            f"the {call} call is invalid: {rejection.reason} "
            f"(kept as dead letter {rejection.dead_letter_id})",
            errors=[FieldError(field="body", message=rejection.reason, type="invalid")],
        )
    return _json({"success": True})


async def _batch(request: Request) -> Response:
    state = runtime(request)
    data = _parse_json(await _read_body(request, state.settings.ingest_max_batch_bytes))
    principal = await _principal(request, data)
    messages = data.get("batch")
    if not isinstance(messages, list) or not messages:
        raise ProblemError(
            "validation-failed",
            "the body needs a non-empty 'batch' array of messages",
            errors=[FieldError(field="body.batch", message="a non-empty array", type="missing")],
        )
    defaults: dict[str, Any] = {
        k: data[k] for k in ("context", "integrations", "sentAt") if k in data
    }
    result = await run_in_threadpool(
        _ingest, state, partial(_prepare, state, principal, messages, None, defaults, _gpc(request))
    )
    return _json(
        {
            "success": True,
            "accepted": len(result.accepted),
            "duplicates": len(result.duplicates),
            "rejected": [
                {"index": r.index, "reason": r.reason, "deadLetterId": r.dead_letter_id}
                for r in result.rejected
            ],
        }
    )


def _register_single(call: str) -> None:
    async def endpoint(request: Request) -> Response:
        return await _single(request, call)

    endpoint.__name__ = f"ingest_{call}"
    router.add_api_route(
        f"/v1/{call}",
        endpoint,
        methods=["POST"],
        summary=f"Send a Segment {call} call",
        description=f"One `{call}` message in Segment's format. {_BASIC_OR_BODY}",
        openapi_extra=_message_schema(call),
        response_model=None,
    )


for _call in MESSAGE_TYPES:
    _register_single(_call)


_BATCH_SCHEMA = {
    "security": _SECURITY,
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["batch"],
                    "properties": {
                        "batch": {
                            "type": "array",
                            "minItems": 1,
                            "description": "Messages; invalid ones are dead-lettered, not refused.",
                        },
                        "context": {"type": "object"},
                        "sentAt": {"type": "string"},
                        "writeKey": {"type": "string"},
                    },
                }
            }
        },
    },
}


@router.post(
    "/v1/batch",
    summary="Send a batch of Segment calls",
    description="Up to 500 KB of messages of any type. Invalid messages are kept as dead "
    "letters and listed in `rejected`; the others are accepted. " + _BASIC_OR_BODY,
    openapi_extra=_BATCH_SCHEMA,
    response_model=None,
)
async def ingest_batch(request: Request) -> Response:
    return await _batch(request)


@router.post(
    "/v1/import",
    summary="Import historical Segment calls (same as /v1/batch)",
    description="Segment's name for batches of historical data; identical to `/v1/batch`.",
    openapi_extra=_BATCH_SCHEMA,
    response_model=None,
)
async def ingest_import(request: Request) -> Response:
    return await _batch(request)
