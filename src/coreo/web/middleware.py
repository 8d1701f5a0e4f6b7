"""Pure ASGI middleware: request ids, access log, metrics, body limits, last-resort 500s."""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from coreo.observability.logs import request_id_var
from coreo.observability.metrics import HttpMetrics
from coreo.web.problems import problem_response
from coreo.web.routing import route_template

__all__ = ["BodyLimitMiddleware", "BodyTooLargeError", "RequestContextMiddleware"]

_log = logging.getLogger("coreo.api")
_access = logging.getLogger("coreo.access")
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
_QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})


class BodyTooLargeError(StarletteHTTPException):
    """Raised while reading a body that exceeds the limit.

    An HTTPException subclass because FastAPI turns any other exception raised while reading
    the body into a 400.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body exceeds the limit of {limit} bytes")


class RequestContextMiddleware:
    """Outermost layer: assigns the request id, times the request, logs and counts it, and
    answers any unhandled exception with a 500 problem that quotes the request id."""

    def __init__(self, app: ASGIApp, *, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = _header(scope, b"x-request-id")
        request_id = incoming if incoming and _SAFE_REQUEST_ID.fullmatch(incoming) else None
        request_id = request_id or uuid.uuid4().hex
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except BodyTooLargeError as error:
            if response_started:
                raise
            await problem_response(scope, "payload-too-large", str(error.detail))(
                scope, receive, send_with_id
            )
        except Exception:
            _log.exception("unhandled error", extra={"route": route_template(scope)})
            if response_started:
                raise
            await problem_response(
                scope,
                "internal-error",
                f"an unexpected error occurred; quote request id {request_id} when reporting it",
            )(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = route_template(scope)
            self.metrics.observe(
                method=scope["method"], route=route, status=status, seconds=elapsed
            )
            _access.log(
                logging.DEBUG if route in _QUIET_ROUTES else logging.INFO,
                "request",
                extra={
                    "method": scope["method"],
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 3),
                },
            )
            request_id_var.reset(token)


class BodyLimitMiddleware:
    """Refuse bodies over ``max_bytes``: by Content-Length up front, by counting otherwise.

    ``path_limits`` gives single paths (file uploads) a limit of their own.
    """

    def __init__(
        self, app: ASGIApp, *, max_bytes: int, path_limits: dict[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.path_limits = path_limits or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.path_limits.get(scope["path"], self.max_bytes)
        declared = _header(scope, b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await problem_response(scope, "malformed-request", "invalid Content-Length")(
                    scope, receive, send
                )
                return
            if int(declared) > limit:
                raise BodyTooLargeError(limit)
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLargeError(limit)
            return message

        await self.app(scope, counting_receive, send)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None
