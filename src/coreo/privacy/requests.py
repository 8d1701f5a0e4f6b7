"""Data subject requests (GDPR Art. 12, 15-21; revDSG Art. 25-32): received → verified →
executed (completed with evidence) or rejected; every step is audited.

Deadline (Art. 12(3)): one month from receipt (the same day of the next month, or that
month's last day), extendable once by up to two further months when the request is
complex; ``overdue`` lists open requests past their deadline.

Execution needs a verified identity and does what the type asks:

* ``access`` / ``portability``: builds the package (``coreo.privacy.package``); the evidence
  keeps its SHA-256 and counts, not its content;
* ``rectification``: ``details.traits`` replace the profile's traits (source
  ``privacy-request``, the most trusted possible: the person said so);
* ``erasure``: ``coreo.privacy.erasure.erase``;
* ``restriction``: the profile is restricted (Art. 18; ``details.lift`` lifts it);
* ``objection``: an objection to processing on legitimate interest (Art. 21(1)) and to
  direct marketing (Art. 21(2), recorded in the consent ledger).
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Literal, get_args

from sqlalchemy import select
from sqlalchemy.orm import Session

from coreo.audit import service as audit_service
from coreo.consent import service as consent_service
from coreo.db import Database, utcnow
from coreo.errors import ConflictError, InvalidInputError, NotFoundError
from coreo.eventlog.base import EventLog
from coreo.ids import new_id
from coreo.privacy import erasure, package, suppression
from coreo.privacy.crypto import is_sealed
from coreo.privacy.models import PrivacyRequest
from coreo.profiles.models import SEALED_PREFIX, ProfileTrait
from coreo.traits import service as computed_traits

__all__ = [
    "REQUEST_TYPES",
    "RequestType",
    "add_months",
    "create",
    "execute",
    "extend",
    "get",
    "listing",
    "reject",
    "verify",
]

RequestType = Literal[
    "access", "portability", "rectification", "erasure", "restriction", "objection"
]
REQUEST_TYPES: tuple[str, ...] = get_args(RequestType)
OPEN = ("received", "in_progress")
RECTIFICATION_SOURCE = "privacy-request"


def add_months(at: datetime, months: int) -> datetime:
    """The same day ``months`` later, or that month's last day (Jan 31 + 1 → Feb 28/29)."""
    index = at.month - 1 + months
    year, month = at.year + index // 12, index % 12 + 1
    return at.replace(year=year, month=month, day=min(at.day, calendar.monthrange(year, month)[1]))


def _audit(
    session: Session, request: PrivacyRequest, actor: str, step: str, **details: Any
) -> None:
    audit_service.record(
        session=session,
        chain=request.workspace_id,
        actor=actor,
        action=f"privacy.request.{step}",
        target=f"profile:{request.profile_id}",
        details={"request": request.id, "type": request.type, **details},
    )


def create(
    session: Session,
    workspace_id: str,
    *,
    type_: str,
    profile_id: str,
    actor: str,
    details: dict[str, Any] | None = None,
    received_at: datetime | None = None,
) -> PrivacyRequest:
    if type_ not in REQUEST_TYPES:
        raise InvalidInputError(
            f"unknown request type {type_!r}; one of {', '.join(REQUEST_TYPES)}", field="type"
        )
    live = consent_service.subject(session, workspace_id, profile_id)
    now = utcnow()
    received = received_at or now
    if received > now:
        raise InvalidInputError("a request cannot be received in the future", field="received_at")
    details = details or {}
    if type_ == "rectification":
        _rectification_traits(details)
    request = PrivacyRequest(
        id=new_id("dsr"),
        workspace_id=workspace_id,
        type=type_,
        profile_id=live,
        status="received",
        verification="pending",
        details=details,
        received_at=received,
        due_at=add_months(received, 1),
        created_by=actor,
        updated_at=now,
    )
    session.add(request)
    session.flush()
    _audit(session, request, actor, "received", due_at=request.due_at.isoformat())
    return request


def _rectification_traits(details: dict[str, Any]) -> dict[str, Any]:
    traits = details.get("traits")
    if not isinstance(traits, dict) or not traits:
        raise InvalidInputError(
            "a rectification names the corrected traits: details.traits = {name: value}",
            field="details",
        )
    if any(is_sealed(v) for v in traits.values()):
        raise InvalidInputError(
            f"a value starts with {SEALED_PREFIX!r}, which Coreo keeps for sealed data",
            field="details",
        )
    return traits


def get(session: Session, workspace_id: str, request_id: str) -> PrivacyRequest:
    request = session.scalar(
        select(PrivacyRequest).where(
            PrivacyRequest.workspace_id == workspace_id, PrivacyRequest.id == request_id
        )
    )
    if request is None:
        raise NotFoundError(f"no privacy request {request_id!r}")
    return request


def listing(
    session: Session,
    workspace_id: str,
    *,
    status: str | None = None,
    overdue: bool = False,
    now: datetime | None = None,
) -> Sequence[PrivacyRequest]:
    query = select(PrivacyRequest).where(PrivacyRequest.workspace_id == workspace_id)
    if status is not None:
        query = query.where(PrivacyRequest.status == status)
    if overdue:
        query = query.where(
            PrivacyRequest.status.in_(OPEN), PrivacyRequest.due_at < (now or utcnow())
        )
    return session.scalars(query.order_by(PrivacyRequest.due_at, PrivacyRequest.id)).all()


def _open(request: PrivacyRequest) -> None:
    if request.status not in OPEN:
        raise ConflictError(f"request {request.id} is {request.status}")


def verify(
    session: Session, request: PrivacyRequest, *, verified: bool, method: str, actor: str
) -> PrivacyRequest:
    """Record how the person's identity was checked (Art. 12(6)) and the outcome."""
    _open(request)
    request.verification = "verified" if verified else "failed"
    request.verification_method = method
    request.status = "in_progress"
    request.updated_at = utcnow()
    _audit(session, request, actor, "verified", outcome=request.verification)
    return request


def extend(
    session: Session, request: PrivacyRequest, *, months: int, reason: str, actor: str
) -> PrivacyRequest:
    """Extend the deadline once by one or two months (Art. 12(3))."""
    _open(request)
    if request.extended:
        raise ConflictError(f"request {request.id} was extended already (at most once)")
    if months not in (1, 2):
        raise InvalidInputError("an extension is by one or two months", field="months")
    if utcnow() > request.due_at:
        raise ConflictError("the deadline has passed: an extension must be decided before it")
    request.due_at = add_months(request.due_at, months)
    request.extended = True
    request.extension_reason = reason
    request.updated_at = utcnow()
    _audit(session, request, actor, "extended", due_at=request.due_at.isoformat())
    return request


def reject(session: Session, request: PrivacyRequest, *, reason: str, actor: str) -> PrivacyRequest:
    """Refuse the request (manifestly unfounded or excessive, identity not established)."""
    _open(request)
    request.status = "rejected"
    request.rejection_reason = reason
    request.completed_at = request.updated_at = utcnow()
    _audit(session, request, actor, "rejected")
    return request


def _rectify(session: Session, request: PrivacyRequest, now: datetime) -> dict[str, Any]:
    traits = _rectification_traits(request.details)
    for name, value in traits.items():
        row = session.get(ProfileTrait, (request.workspace_id, request.profile_id, name))
        if row is None:
            session.add(
                ProfileTrait(
                    workspace_id=request.workspace_id,
                    profile_id=request.profile_id,
                    name=name,
                    value=value,
                    source=RECTIFICATION_SOURCE,
                    observed_at=now,
                    first_seen_at=now,
                    message_id=None,
                )
            )
        else:
            row.value, row.source, row.observed_at = value, RECTIFICATION_SOURCE, now
    session.flush()
    return {"traits": sorted(traits)}


def scan_before_erasure(
    database: Database, workspace_id: str, request_id: str, log: EventLog | None
) -> erasure.LogScan | None:
    """For an erasure request about to be executed on the SQL event log: the records that
    quote the person, searched without holding a write transaction (``execute`` takes
    it as ``scan``). None for any other request, or one that cannot be executed (not
    verified, the person under a legal hold, ...: ``execute`` then says why), so that a
    refused call costs no search."""
    with database.transaction(write=False) as session:
        try:
            request = get(session, workspace_id, request_id)
            profile = consent_service.subject(session, workspace_id, request.profile_id)
        except NotFoundError:
            return None
        if (
            request.type != "erasure"
            or request.status not in OPEN
            or request.verification != "verified"
        ):
            return None
        person = erasure.find_person(session, workspace_id, profile)
        if erasure.hold_on(session, person) is not None:
            return None
    return erasure.scan_log(database, [person], log)


def execute(
    session: Session,
    request: PrivacyRequest,
    *,
    actor: str,
    tombstone_key: bytes,
    proof_key: bytes,
    log: EventLog | None = None,
    scan: erasure.LogScan | None = None,
) -> tuple[PrivacyRequest, package.Package | None]:
    """Carry out a verified request; returns it completed (and the package, for access).
    ``scan``: for an erasure, from ``scan_before_erasure``."""
    _open(request)
    if request.verification != "verified":
        raise ConflictError(
            f"request {request.id}: the person's identity is not verified (GDPR Art. 12(6))"
        )
    now = utcnow()
    built: package.Package | None = None
    ws = request.workspace_id
    # Merged since it was received: the request is about the survivor, who holds it all now.
    profile = request.profile_id = consent_service.subject(session, ws, request.profile_id)
    if request.type in ("access", "portability"):
        built = package.build(session, ws, profile, at=now)
        evidence: dict[str, Any] = {"sha256": built.sha256, "bytes": len(built.data)}
        evidence["counts"] = built.counts
    elif request.type == "rectification":
        evidence = _rectify(session, request, now)
    elif request.type == "erasure":
        evidence = erasure.erase(
            session,
            ws,
            profile,
            tombstone_key=tombstone_key,
            actor=actor,
            request_id=request.id,
            log=log,
            scan=scan,
        )
    elif request.type == "restriction":
        if request.details.get("lift"):
            flags = suppression.active_for_profiles(session, ws, [profile])
            ids = {f.id for f in flags if f.kind == "restriction"}
            suppression.lift(session, ws, ids, f"request {request.id}", at=now)
            # What was not profiled meanwhile is profiled now, from the stored events.
            recomputed = computed_traits.recompute_profiles(session, ws, [profile], now=now)
            evidence = {"lifted": sorted(ids), "recomputed": recomputed}
        else:
            flag = suppression.add_flag(session, ws, profile, "restriction", request_id=request.id)
            evidence = {"restriction": flag.id}
    else:  # objection
        flag = suppression.add_flag(session, ws, profile, "objection", request_id=request.id)
        entry = consent_service.record(
            session,
            ws,
            profile,
            consent_service.ConsentInput(
                purpose="marketing", status="withdrawn", objection=True, source="privacy-request"
            ),
            actor=actor,
            proof_key=proof_key,
        )
        evidence = {"objection": flag.id, "ledger": entry.id}
    request.status = "completed"
    request.completed_at = request.updated_at = now
    request.evidence = {**(request.evidence or {}), **evidence}  # downloads stay listed
    _audit(session, request, actor, "completed", overdue=now > request.due_at)
    return request, built


def overdue_by(request: PrivacyRequest, now: datetime) -> timedelta | None:
    if request.status in OPEN and now > request.due_at:
        return now - request.due_at
    return None
