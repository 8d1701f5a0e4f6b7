"""Routes of privacy (``privacy:admin``): data subject requests (receive, verify, extend,
reject, execute, download the access package; list open and overdue ones), legal holds and
the retention purge."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.orm import Session

from coreo.audit import service as audit_service
from coreo.auth.dependencies import require_scope
from coreo.auth.service import Principal
from coreo.config import Settings
from coreo.db import utcnow
from coreo.errors import ConflictError
from coreo.privacy import package, retention
from coreo.privacy import requests as service
from coreo.privacy import ropa as records
from coreo.privacy.crypto import hash_key
from coreo.privacy.datamap import Category
from coreo.profiles.service import lookup_given
from coreo.web.dependencies import CallerSession, require_json_body
from coreo.web.problems import PROBLEM_MEDIA_TYPE
from coreo.web.state import runtime

__all__ = ["router"]

router = APIRouter(prefix="/v1/privacy", tags=["privacy"])
PrivacyKey = Annotated[Principal, Depends(require_scope("privacy:admin"))]
_PROBLEMS: dict[int | str, dict[str, Any]] = {
    code: {
        "description": text,
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    for code, text in (
        (404, "No such request (or profile)."),
        (409, "The request's state does not allow this step."),
    )
}


class GivenIdentifier(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$", examples=["email"])
    value: str = Field(min_length=1, max_length=300, pattern=r"^[^\x00]*$")


class RequestCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: service.RequestType
    profile_id: str | None = Field(None, min_length=1, max_length=32)
    identifier: GivenIdentifier | None = Field(
        None, description="The identifier the person gave, instead of a profile id."
    )
    details: dict[str, Any] = Field(
        default_factory=dict,
        description="rectification: {traits: {name: value}}; restriction: {lift: true}.",
    )
    received_at: AwareDatetime | None = Field(None, description="Default: now.")

    @model_validator(mode="after")
    def _one_subject(self) -> RequestCreate:
        if (self.profile_id is None) == (self.identifier is None):
            raise ValueError("name the person by profile_id or identifier (one of them)")
        return self


class Verification(BaseModel):
    model_config = ConfigDict(extra="forbid")

    verified: bool
    method: str = Field(min_length=1, max_length=200, examples=["reply from the e-mail on file"])


class Extension(BaseModel):
    model_config = ConfigDict(extra="forbid")

    months: Literal[1, 2]
    reason: str = Field(min_length=1, max_length=2000)


class Rejection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000)


class RequestRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    type: str
    profile_id: str
    status: str
    verification: str
    verification_method: str | None
    details: dict[str, Any]
    received_at: datetime
    due_at: datetime
    extended: bool
    extension_reason: str | None
    completed_at: datetime | None
    evidence: dict[str, Any] | None
    rejection_reason: str | None
    created_by: str
    overdue: bool = False


def _read(row: Any) -> RequestRead:
    shown = RequestRead.model_validate(row)
    shown.overdue = service.overdue_by(row, utcnow()) is not None
    return shown


def _keys(session: Session, settings: Settings) -> tuple[bytes, bytes]:
    return hash_key(session, "tombstone", settings), hash_key(session, "consent-proof", settings)


@router.post(
    "/requests",
    response_model=RequestRead,
    status_code=201,
    summary="Receive a data subject request",
    dependencies=[Depends(require_json_body)],
    responses=_PROBLEMS,
)
def create_request(
    body: RequestCreate, principal: PrivacyKey, session: CallerSession
) -> RequestRead:
    """The deadline is one month from receipt (GDPR Art. 12(3))."""
    ws = principal.workspace_id
    if body.identifier is not None:
        profile_id = lookup_given(session, ws, body.identifier.type, body.identifier.value)
    else:
        profile_id = str(body.profile_id)  # the validator asks for one of them
    row = service.create(
        session,
        ws,
        type_=body.type,
        profile_id=profile_id,
        actor=principal.actor,
        details=body.details,
        received_at=body.received_at,
    )
    return _read(row)


@router.get("/requests", response_model=list[RequestRead], summary="List requests")
def list_requests(
    principal: PrivacyKey,
    session: CallerSession,
    status: Annotated[
        Literal["received", "in_progress", "completed", "rejected"] | None, Query()
    ] = None,
    overdue: Annotated[bool, Query(description="Only open requests past their deadline.")] = False,
) -> list[RequestRead]:
    rows = service.listing(session, principal.workspace_id, status=status, overdue=overdue)
    return [_read(r) for r in rows]


@router.get(
    "/requests/{request_id}",
    response_model=RequestRead,
    summary="Read a request",
    responses=_PROBLEMS,
)
def read_request(request_id: str, principal: PrivacyKey, session: CallerSession) -> RequestRead:
    return _read(service.get(session, principal.workspace_id, request_id))


@router.post(
    "/requests/{request_id}/verify",
    response_model=RequestRead,
    summary="Record the identity check",
    dependencies=[Depends(require_json_body)],
    responses=_PROBLEMS,
)
def verify_request(
    request_id: str, body: Verification, principal: PrivacyKey, session: CallerSession
) -> RequestRead:
    row = service.get(session, principal.workspace_id, request_id)
    service.verify(session, row, verified=body.verified, method=body.method, actor=principal.actor)
    return _read(row)


@router.post(
    "/requests/{request_id}/extend",
    response_model=RequestRead,
    summary="Extend the deadline once, by one or two months",
    dependencies=[Depends(require_json_body)],
    responses=_PROBLEMS,
)
def extend_request(
    request_id: str, body: Extension, principal: PrivacyKey, session: CallerSession
) -> RequestRead:
    row = service.get(session, principal.workspace_id, request_id)
    service.extend(session, row, months=body.months, reason=body.reason, actor=principal.actor)
    return _read(row)


@router.post(
    "/requests/{request_id}/reject",
    response_model=RequestRead,
    summary="Refuse a request, with the reason",
    dependencies=[Depends(require_json_body)],
    responses=_PROBLEMS,
)
def reject_request(
    request_id: str, body: Rejection, principal: PrivacyKey, session: CallerSession
) -> RequestRead:
    row = service.get(session, principal.workspace_id, request_id)
    service.reject(session, row, reason=body.reason, actor=principal.actor)
    return _read(row)


@router.post(
    "/requests/{request_id}/execute",
    response_model=RequestRead,
    summary="Carry out a verified request",
    responses=_PROBLEMS,
)
def execute_request(request_id: str, request: Request, principal: PrivacyKey) -> RequestRead:
    """Access and portability: completes with the package's hash as evidence (download it
    from ``…/package``); rectification, erasure, restriction, objection: done now."""
    state, ws = runtime(request), principal.workspace_id
    # An erasure's search of the event log runs first, outside the write transaction.
    scan = service.scan_before_erasure(state.database, ws, request_id, state.event_log)
    with state.database.transaction(workspace_id=ws) as session:
        row = service.get(session, ws, request_id)
        tombstone, proof = _keys(session, state.settings)
        service.execute(
            session,
            row,
            actor=principal.actor,
            tombstone_key=tombstone,
            proof_key=proof,
            log=state.event_log,
            scan=scan,
        )
        return _read(row)


@router.get(
    "/requests/{request_id}/package",
    summary="Download the access package (ZIP: data.json and CSV files)",
    responses={
        **_PROBLEMS,
        200: {"content": {"application/zip": {}}, "description": "The package."},
    },
)
def download_package(
    request_id: str, request: Request, principal: PrivacyKey, session: CallerSession
) -> Response:
    """Built when asked, so it holds what is held now. Each download's SHA-256 goes into
    the request's evidence (``downloads``) and the audit chain before it is sent."""
    row = service.get(session, principal.workspace_id, request_id)
    if row.type not in ("access", "portability"):
        raise ConflictError(f"request {row.id} is a {row.type} request: it has no package")
    if row.verification != "verified" or row.status == "rejected":
        raise ConflictError(f"request {row.id}: the person's identity is not verified")
    now = utcnow()
    built = package.build(session, principal.workspace_id, row.profile_id, at=now)
    database = runtime(request).database
    with database.transaction(workspace_id=principal.workspace_id) as writing:  # a GET reads
        kept = service.get(writing, principal.workspace_id, request_id)
        downloads = [*(kept.evidence or {}).get("downloads", []), {"at": now.isoformat(),
                     "sha256": built.sha256, "bytes": len(built.data)}]  # fmt: skip
        kept.evidence = {**(kept.evidence or {}), "downloads": downloads}
        audit_service.record(
            session=writing,
            chain=principal.workspace_id,
            actor=principal.actor,
            action="privacy.package.exported",
            target=f"profile:{row.profile_id}",
            details={"request": row.id, "sha256": built.sha256, "counts": built.counts},
        )
    return Response(
        built.data,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{row.id}.zip"'},
    )


class HoldCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    profile_id: str | None = Field(None, min_length=1, max_length=32)
    category: Category | None = None
    reason: str = Field(min_length=1, max_length=2000)

    @model_validator(mode="after")
    def _one_scope(self) -> HoldCreate:
        if (self.profile_id is None) == (self.category is None):
            raise ValueError("a legal hold covers a profile_id or a category (one of them)")
        return self


class HoldRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    profile_id: str | None
    category: str | None
    reason: str
    created_by: str
    created_at: datetime
    released_at: datetime | None
    released_by: str | None


class RetentionReport(BaseModel):
    dry_run: bool
    purged: dict[str, int]
    held_profiles: int
    held_categories: list[str]


@router.post(
    "/holds",
    response_model=HoldRead,
    status_code=201,
    summary="Put a person or a data category on legal hold",
    dependencies=[Depends(require_json_body)],
    responses=_PROBLEMS,
)
def add_hold(body: HoldCreate, principal: PrivacyKey, session: CallerSession) -> HoldRead:
    """Held data is exempt from retention; a held person cannot be erased (GDPR Art.
    17(3)(e)) until the hold is released."""
    hold = retention.add_hold(
        session,
        principal.workspace_id,
        reason=body.reason,
        actor=principal.actor,
        profile_id=body.profile_id,
        category=body.category,
    )
    return HoldRead.model_validate(hold)


@router.get("/holds", response_model=list[HoldRead], summary="List legal holds")
def list_holds(
    principal: PrivacyKey,
    session: CallerSession,
    released: Annotated[bool, Query(description="Include released holds.")] = False,
) -> list[HoldRead]:
    rows = retention.holds(session, principal.workspace_id, active=not released)
    return [HoldRead.model_validate(h) for h in rows]


@router.delete(
    "/holds/{hold_id}", response_model=HoldRead, summary="Release a legal hold", responses=_PROBLEMS
)
def release_hold(hold_id: str, principal: PrivacyKey, session: CallerSession) -> HoldRead:
    hold = retention.release_hold(session, principal.workspace_id, hold_id, actor=principal.actor)
    return HoldRead.model_validate(hold)


@router.post(
    "/retention/run", response_model=RetentionReport, summary="Run the retention purge now"
)
def run_retention(
    request: Request,
    principal: PrivacyKey,
    dry_run: Annotated[bool, Query(description="Count what would go; delete nothing.")] = False,
) -> RetentionReport:
    """Deletes (or, for inactive profiles, erases) what has outlived its period, in short
    transactions; audited."""
    report = retention.run(
        runtime(request).database,
        principal.workspace_id,
        runtime(request).settings,
        actor=principal.actor,
        dry_run=dry_run,
        log=runtime(request).event_log,
    )
    return RetentionReport(
        dry_run=report.dry_run,
        purged=report.purged,
        held_profiles=report.held_profiles,
        held_categories=report.held_categories,
    )


@router.get("/ropa", summary="The record of processing activities (GDPR Art. 30)")
def read_ropa(request: Request, principal: PrivacyKey, session: CallerSession) -> dict[str, Any]:
    """Generated from the configuration; ``coreo ropa --format md`` renders it as Markdown."""
    return records.build(session, principal.workspace_id, runtime(request).settings)
