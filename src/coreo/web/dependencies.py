"""Dependencies every domain router uses: JSON-only bodies and a workspace-confined session."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from coreo.auth.dependencies import get_principal, require_scope
from coreo.auth.service import Principal
from coreo.web.problems import ProblemError
from coreo.web.state import runtime

__all__ = ["AdminKey", "CallerSession", "require_json_body", "workspace_session"]

_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def require_json_body(request: Request) -> None:
    """Answer 415 when a request carries a body that is not declared as JSON."""
    if request.method not in {"POST", "PUT", "PATCH"}:
        return
    headers = request.headers
    length = headers.get("content-length")
    if (length is None or length == "0") and "transfer-encoding" not in headers:
        return
    media_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    ):
        return
    raise ProblemError(
        "unsupported-media-type",
        f"send JSON with 'Content-Type: application/json' (got {media_type or 'no content type'})",
    )


def workspace_session(
    request: Request, principal: Principal = Depends(get_principal)
) -> Iterator[Session]:
    """A transaction confined to the caller's workspace; committed when the handler returns.

    Use with ``Depends(workspace_session, scope="function")`` so the commit happens before the
    response is sent and a failed commit still turns into an error response.
    """
    database = runtime(request).database
    with database.transaction(
        workspace_id=principal.workspace_id, write=request.method not in _READ_METHODS
    ) as session:
        yield session


# Route parameters shared by the domain routers.
AdminKey = Annotated[Principal, Depends(require_scope("admin"))]
CallerSession = Annotated[Session, Depends(workspace_session, scope="function")]
