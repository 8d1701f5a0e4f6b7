"""Routes of profiles (``profiles:read``): read a profile and its timeline, look one up by
any identifier, search by trait.

A merged profile's id answers ``308 Permanent Redirect`` to the surviving profile, so links
and stored ids keep working after a merge.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import AfterValidator, AwareDatetime, BaseModel, Field

from coreo.audit import service as audit_service
from coreo.auth.dependencies import require_scope
from coreo.auth.service import Principal
from coreo.consent import service as consent_service
from coreo.consent.purposes import CHANNEL_PATTERN, PURPOSE_PATTERN
from coreo.db import Database
from coreo.errors import InvalidInputError
from coreo.profiles import service
from coreo.web.cursors import bad_cursor, decode_cursor, encode_cursor
from coreo.web.dependencies import CallerSession
from coreo.web.problems import PROBLEM_MEDIA_TYPE, ProblemError
from coreo.web.state import runtime

__all__ = ["router"]

router = APIRouter(prefix="/v1/profiles", tags=["profiles"])
ReadKey = Annotated[Principal, Depends(require_scope("profiles:read"))]


def _utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("the time is out of range") from None


UtcDateTime = Annotated[AwareDatetime, AfterValidator(_utc)]
MessageType = Literal["identify", "track", "page", "screen", "group", "alias"]
_NO_NUL = r"^[^\x00]*$"
_BAD_CURSOR: dict[int | str, dict[str, Any]] = {
    400: {
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        "description": "The cursor is not one this listing gave out.",
    }
}


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
    id: str
    undone_at: datetime | None
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


class EventRead(BaseModel):
    """An event of a profile's history."""

    message_id: str
    type: str
    event: str | None
    timestamp: datetime
    received_at: datetime
    profile_id: str | None  # the profile it was attributed to (maybe one merged since)
    properties: dict[str, Any]  # a track/page/screen call's properties, an identify's traits


class ProfileRead(BaseModel):
    """A unified profile: its traits with provenance, identities, merge history and its
    most recent events (including those of profiles merged into it)."""

    id: str
    created_at: datetime
    updated_at: datetime
    traits: dict[str, TraitRead]
    computed_traits: dict[str, Any] = Field(
        description="Computed traits by name, evaluated at the time of the request "
        "(see /v1/computed-traits)."
    )
    identities: list[IdentityRead]
    merges: list[MergeRead]
    recent_events: list[EventRead]


class TimelinePage(BaseModel):
    items: list[EventRead]
    next_cursor: str | None  # pass as ``cursor`` for the next page; null on the last


class ProfileHit(BaseModel):
    id: str
    traits: dict[str, Any]  # the searched trait, e-mail and names, where the profile has them


class ProfileSearchPage(BaseModel):
    items: list[ProfileHit]
    next_cursor: str | None


@router.get(
    "",
    response_model=ProfileSearchPage,
    summary="Find profiles by a trait's value",
    responses=_BAD_CURSOR,
)
def search_profiles(
    request: Request,
    principal: ReadKey,
    session: CallerSession,
    trait: Annotated[
        str, Query(min_length=1, max_length=200, pattern=_NO_NUL, description="Trait name.")
    ],
    value: Annotated[str, Query(min_length=1, max_length=200, pattern=_NO_NUL)],
    prefix: Annotated[bool, Query(description="Match values that start with value.")] = False,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> ProfileSearchPage:
    """Live profiles whose trait equals ``value`` (``?trait=city&value=Zürich``), or starts
    with it (``&prefix=true``). Values compare exactly as stored, case and accents included;
    e-mail addresses compare trimmed and lower-case, as ingestion stores them. Text values
    of up to 200 characters, numbers (``42``) and booleans (``true``) are searchable; nested
    values (an address's city) are not. Ordered by value, then profile id."""
    after = decode_cursor(cursor, "search", 2) if cursor is not None else None
    page = service.search(
        session,
        workspace_id=principal.workspace_id,
        trait=trait,
        value=value,
        prefix=prefix,
        after=(after[0], after[1]) if after is not None else None,
        limit=limit,
    )
    audit_service.record_reads(
        runtime(request).database,
        principal.workspace_id,
        actor=principal.actor,
        action="profile.found",
        profile_ids=[i for i, _ in page.hits],
        details={"trait": trait},
    )
    return ProfileSearchPage(
        items=[ProfileHit(id=i, traits=t) for i, t in page.hits],
        next_cursor=encode_cursor("search", *page.next) if page.next is not None else None,
    )


class PurposeQuery(BaseModel):
    """What the caller will use the profile for; the consent check decides (403 if not)."""

    purpose: str | None = Field(
        None,
        pattern=PURPOSE_PATTERN,
        description="Checked against the person's consents (docs/consent.md).",
    )
    channel: str | None = Field(None, pattern=CHANNEL_PATTERN, description="For marketing.")


_LOOKUP_FIELDS = ("user_id", "anonymous_id", "email", "phone", "device_id", "loyalty_card")


@router.get(
    "/lookup",
    response_model=ProfileRead,
    summary="Find the profile holding an identifier",
    responses={404: {"description": "No profile holds it."}},
)
def lookup_profile(
    request: Request,
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
    E-mail addresses are keyed as the identity rules say (by default by mailbox, so
    ``Anna.Meier+shop@googlemail.com`` finds ``annameier@gmail.com``)."""
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
    profile_id = service.lookup_given(session, principal.workspace_id, kind, raw)
    return _profile(runtime(request).database, session, principal, profile_id)


@router.get(
    "/{profile_id}",
    response_model=ProfileRead,
    summary="Read a profile",
    responses={
        308: {"description": "Merged: the Location is the surviving profile."},
        403: {"description": "The person's consents do not allow the purpose asked."},
    },
)
def read_profile(
    profile_id: str,
    request: Request,
    principal: ReadKey,
    session: CallerSession,
    use: Annotated[PurposeQuery, Query()],
) -> Response:
    """With ``?purpose=`` (and ``&channel=`` for marketing) the person's consents are checked
    first: 403 problem+json when they do not allow it, else the profile with the legal basis
    in the ``Coreo-Legal-Basis`` header."""
    return _profile(
        runtime(request).database, session, principal, profile_id, use, request.url.query
    )


@router.get(
    "/{profile_id}/timeline",
    response_model=TimelinePage,
    summary="A profile's events, newest first",
    responses={
        308: {"description": "Merged: the Location is the surviving profile's timeline."},
        **_BAD_CURSOR,
    },
)
def read_timeline(
    profile_id: str,
    request: Request,
    principal: ReadKey,
    session: CallerSession,
    type: Annotated[list[MessageType] | None, Query(description="Only these call types.")] = None,
    event: Annotated[
        str | None, Query(max_length=200, pattern=_NO_NUL, description="Only this event name.")
    ] = None,
    since: Annotated[UtcDateTime | None, Query(description="From this time on.")] = None,
    until: Annotated[UtcDateTime | None, Query(description="Before this time.")] = None,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Response:
    """The profile's events and those of the profiles merged into it, newest first, a page
    at a time. Pages follow (timestamp, message id), so events arriving meanwhile never
    shift them; a page event's name is a track call's event or a page's or screen's name."""
    before = None
    if cursor is not None:
        at, message_id = decode_cursor(cursor, "timeline", 2)
        try:
            moment = datetime.fromisoformat(at)
        except ValueError:
            raise bad_cursor() from None
        if moment.tzinfo is None or moment.utcoffset() != timedelta(0):
            raise bad_cursor()
        before = (moment, message_id)
    try:
        page = service.timeline(
            session,
            workspace_id=principal.workspace_id,
            profile_id=profile_id,
            before=before,
            types=type or (),
            event=event,
            since=since,
            until=until,
            limit=limit,
        )
    except service.Merged as merged:
        query = f"?{request.url.query}" if request.url.query else ""
        return RedirectResponse(f"/v1/profiles/{merged.survivor}/timeline{query}", 308)
    audit_service.record_reads(
        runtime(request).database,
        principal.workspace_id,
        actor=principal.actor,
        action="profile.timeline_read",
        profile_ids=[profile_id],
    )
    opened = service.open_events(session, principal.workspace_id, page.events)
    body = TimelinePage(
        items=[
            EventRead.model_validate(service.describe_event(e, opened[e.message_id]))
            for e in page.events
        ],
        next_cursor=encode_cursor("timeline", page.next[0].isoformat(), page.next[1])
        if page.next is not None
        else None,
    )
    return _json_response(body)


def _profile(
    database: Database,
    session: CallerSession,
    principal: Principal,
    profile_id: str,
    use: PurposeQuery | None = None,
    query: str = "",
) -> Response:
    try:
        view = service.view(session, principal.workspace_id, profile_id)
    except service.Merged as merged:
        location = f"/v1/profiles/{merged.survivor}" + (f"?{query}" if query else "")
        return RedirectResponse(location, status_code=308)
    headers = {}
    if use is not None and use.purpose is not None:
        decision = consent_service.check(
            session, principal.workspace_id, view.profile.id, use.purpose, use.channel
        )
        if not decision.allowed:
            raise ProblemError(
                "forbidden",
                f"{use.purpose} is not allowed for this profile: {decision.reason}",
            )
        headers["Coreo-Legal-Basis"] = str(decision.legal_basis)
    body = ProfileRead.model_validate(service.describe(view))
    audit_service.record_reads(
        database,
        principal.workspace_id,
        actor=principal.actor,
        action="profile.read",
        profile_ids=[view.profile.id],
        details={"purpose": use.purpose} if use is not None and use.purpose else None,
    )
    return _json_response(body, headers)


def _json_response(body: BaseModel, headers: dict[str, str] | None = None) -> Response:
    """``body`` serialised by pydantic itself (what ``JSONResponse`` of its dump would send,
    without the detour through a dict and the standard library's encoder)."""
    return Response(body.model_dump_json(), media_type="application/json", headers=headers)
