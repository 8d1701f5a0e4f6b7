"""Assertions shared across test domains."""

from __future__ import annotations

from typing import Any

import httpx2
import orjson

from coreo.privacy import transit

PROBLEM_KEYS = {"type", "title", "status", "detail", "instance", "request_id"}


def assert_problem(response: httpx2.Response, status: int, slug: str) -> dict[str, Any]:
    """Assert an RFC 9457 problem response of the given status and type; return its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body.keys() >= PROBLEM_KEYS
    assert body["type"] == f"urn:coreo:problem:{slug}"
    assert body["status"] == status
    assert body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    assert body["request_id"] == response.headers["x-request-id"]
    assert "Traceback" not in response.text
    return body


def key_prefix(token: str) -> str:
    """The public prefix of a token (the secret part may itself contain '_')."""
    return token[: len("coreo_sk_") + 12]


def key_secret(token: str) -> str:
    return token[len("coreo_sk_") + 13 :]


def identity_graph(database: Any, workspace_id: str) -> dict[str, str]:
    """Each identifier of a workspace as ``type:value`` (opened: the table holds them
    sealed) → its profile."""
    from sqlalchemy import select

    from coreo.identity.models import ProfileIdentity
    from coreo.privacy.crypto import identity_values

    with database.transaction(write=False) as session:
        rows = session.scalars(
            select(ProfileIdentity).where(ProfileIdentity.workspace_id == workspace_id)
        ).all()
        values = identity_values(session, workspace_id, rows)
        return {f"{r.type}:{values[(r.type, r.value)]}": r.profile_id for r in rows}


def identity_row(session: Any, workspace_id: str, kind: str, value: str) -> Any:
    """The identity row of an identifier given by its value (the table keys it)."""
    from coreo.identity.identifiers import Identifier
    from coreo.identity.models import ProfileIdentity
    from coreo.identity.service import keyed

    key = keyed(session, Identifier(kind, value)).value
    return session.get(ProfileIdentity, (workspace_id, kind, key))


def logged_messages(database: Any, log: Any) -> list[tuple[str, dict[str, Any]]]:
    """(workspace id, message) of every record of an event log, opened (the log's payloads
    are sealed with the day's transit key)."""
    with database.transaction(write=False) as session:
        return [
            (r.workspace_id, orjson.loads(transit.open_record(session, r.workspace_id, r.payload)))
            for partition in range(log.partitions)
            for r in log.read(partition, 0, max(1, log.end_offset(partition)))
        ]
