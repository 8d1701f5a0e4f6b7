"""Routes of profiles (``profiles:read``): read a profile, look one up by any identifier.

A merged profile's id answers ``308 Permanent Redirect`` to the surviving profile, so links
and stored ids keep working after a merge.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel

from coreo.auth.dependencies import require_scope
from coreo.auth.service import Principal
from coreo.errors import InvalidInputError
from coreo.identity.identifiers import Identifier
from coreo.profiles import service
from coreo.web.dependencies import CallerSession

__all__ = ["router"]

router = APIRouter(prefix="/v1/profiles", tags=["profiles"])
ReadKey = Annotated[Principal, Depends(require_scope("profiles:read"))]


class IdentityRead(BaseModel):
    type: str
    value: str
    first_seen: datetime
    last_seen: datetime
    shared: bool


class MergeIdentity(BaseModel):
    type: str
    value: str


class MergeRead(BaseModel):
    survivor_id: str
    merged_id: str
    at: datetime
    reason: str
    message_id: str | None
    identities: list[MergeIdentity]


class TraitRead(BaseModel):
    value: Any
    source: str
    observed_at: datetime
    first_seen_at: datetime
    personal: bool


class ProfileRead(BaseModel):
    """A unified profile: its traits with provenance, identities and merge history."""

    id: str
    created_at: datetime
    updated_at: datetime
    traits: dict[str, TraitRead]
    identities: list[IdentityRead]
    merges: list[MergeRead]


_LOOKUP_FIELDS = ("user_id", "anonymous_id", "email", "phone", "device_id", "loyalty_card")


@router.get(
    "/lookup",
    response_model=ProfileRead,
    summary="Find the profile holding an identifier",
    responses={404: {"description": "No profile holds it."}},
)
def lookup_profile(
    principal: ReadKey,
    session: CallerSession,
    user_id: Annotated[str | None, Query(max_length=300)] = None,
    anonymous_id: Annotated[str | None, Query(max_length=300)] = None,
    email: Annotated[str | None, Query(max_length=300)] = None,
    phone: Annotated[str | None, Query(max_length=300)] = None,
    device_id: Annotated[str | None, Query(max_length=300)] = None,
    loyalty_card: Annotated[str | None, Query(max_length=300)] = None,
    type: Annotated[
        str | None,
        Query(pattern=r"^[a-z][a-z0-9_]{0,63}$", description="Any identifier type, with value."),
    ] = None,
    value: Annotated[str | None, Query(max_length=300)] = None,
) -> Response:
    """Exactly one identifier: ``?email=anna@example.ch`` or ``?type=erp_customer_no&value=1001``.
    E-mail addresses are compared as ingestion stores them (trimmed, lower-case)."""
    given = {
        name: v
        for name, v in zip(
            _LOOKUP_FIELDS,
            (user_id, anonymous_id, email, phone, device_id, loyalty_card),
            strict=True,
        )
        if v is not None
    }
    if (type is None) != (value is None):
        raise InvalidInputError("give type and value together", field="query.type")
    if type is not None and value is not None:
        given[type] = value
    if len(given) != 1:
        raise InvalidInputError(
            "look up exactly one identifier, e.g. ?email=anna@example.ch", field="query"
        )
    ((kind, raw),) = given.items()
    text = raw.strip().lower() if kind == "email" else raw.strip()
    profile_id = service.lookup(session, principal.workspace_id, Identifier(kind, text))
    return _profile(session, principal, profile_id)


@router.get(
    "/{profile_id}",
    response_model=ProfileRead,
    summary="Read a profile",
    responses={308: {"description": "Merged: the Location is the surviving profile."}},
)
def read_profile(profile_id: str, principal: ReadKey, session: CallerSession) -> Response:
    return _profile(session, principal, profile_id)


def _profile(session: CallerSession, principal: Principal, profile_id: str) -> Response:
    try:
        view = service.view(session, principal.workspace_id, profile_id)
    except service.Merged as merged:
        return RedirectResponse(f"/v1/profiles/{merged.survivor}", status_code=308)
    body = ProfileRead.model_validate(service.describe(view)).model_dump(mode="json")
    return JSONResponse(body)
